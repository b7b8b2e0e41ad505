"""samples/map.yaml written with the SDK: a Map over a list parameter."""

from magnus_render.sdk import Map, Pipeline, Task

process = Task(
    name="process", command="samples.functions.process_chunk", terminate_with_success=True
)

chunk = Task(name="chunk", command="samples.functions.make_chunks")
each = Map(
    name="each",
    iterate_on="chunks",
    iterate_as="chunk",
    branch=Pipeline(steps=[process], start_at=process),
)
summarize = Task(
    name="summarize", command="samples.functions.summarize", terminate_with_success=True
)
chunk >> each >> summarize

pipeline = Pipeline(description="Map over chunks", steps=[chunk, each, summarize], start_at=chunk)

if __name__ == "__main__":
    pipeline.execute()
