"""samples/notebook.yaml written with the SDK: a notebook task after a python task."""

from magnus_render.sdk import Pipeline, Task

initialize = Task(name="initialize", command="samples.functions.initialize")
notebook = Task(
    name="notebook",
    command_type="notebook",
    command="samples/notebooks/simple.ipynb",
    terminate_with_success=True,
)
initialize >> notebook

pipeline = Pipeline(description="Notebook task", steps=[initialize, notebook])

if __name__ == "__main__":
    pipeline.execute()
