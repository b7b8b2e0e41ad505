"""samples/on_failure.yaml written with the SDK: a failing step routes to on_failure."""

from magnus_render.sdk import Pipeline, Stub, Task

recover = Task(name="recover", command="samples.functions.recover", terminate_with_success=True)
unreached = Stub(name="unreached", terminate_with_success=True)
risky = Task(name="risky", command="samples.functions.fail_always", on_failure=recover)
risky >> unreached

pipeline = Pipeline(description="on_failure routing", steps=[risky, unreached, recover])

if __name__ == "__main__":
    pipeline.execute()
