"""samples/failing.yaml written with the SDK: a failing shell step ends the run in fail."""

from magnus_render.sdk import Pipeline, Stub, Task

prepare = Task(name="prepare", command="samples.functions.initialize")
broken = Task(
    name="broken",
    command_type="shell",
    command='echo "about to fail"\nfalse\necho "never printed"\n',
)
after = Stub(name="after", terminate_with_success=True)
prepare >> broken >> after

pipeline = Pipeline(description="A run that fails", steps=[prepare, broken, after])

if __name__ == "__main__":
    pipeline.execute()
