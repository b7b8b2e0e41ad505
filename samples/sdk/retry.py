"""samples/retry.yaml written with the SDK: a flaky step retried up to three times."""

from magnus_render.sdk import Pipeline, Task

flaky = Task(
    name="flaky",
    command="samples.functions.flaky",
    max_attempts=3,
    terminate_with_success=True,
)

pipeline = Pipeline(description="Retries that really happen", steps=[flaky])

if __name__ == "__main__":
    pipeline.execute()
