"""samples/parallel.yaml written with the SDK: two branches side by side."""

from magnus_render.sdk import AsIs, Parallel, Pipeline, Task

double = Task(name="double", command="samples.functions.double", terminate_with_success=True)
echo = Task(name="echo", command_type="shell", command='echo "x is $MAGNUS_PRM_x"')
wait = AsIs(name="wait", terminate_with_success=True)
echo >> wait

initialize = Task(name="initialize", command="samples.functions.initialize")
both = Parallel(
    name="both",
    branches={
        "python_branch": Pipeline(steps=[double]),
        "shell_branch": Pipeline(steps=[echo, wait]),
    },
)
report = Task(
    name="report",
    command_type="shell",
    command='echo "after both branches x=$MAGNUS_PRM_x"',
    terminate_with_success=True,
)
initialize >> both >> report

pipeline = Pipeline(description="Parallel branches", steps=[initialize, both, report])

if __name__ == "__main__":
    pipeline.execute()
