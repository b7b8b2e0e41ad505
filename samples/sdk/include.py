"""samples/include.yaml written with the SDK: a Dag step inlines a YAML file (relative to
this Python file)."""

from magnus_render.sdk import Dag, Pipeline, Task

initialize = Task(name="initialize", command="samples.functions.initialize")
training = Dag(name="training", dag_definition="../included/training.yaml")
report = Task(name="report", command="samples.functions.report", terminate_with_success=True)
initialize >> training >> report

pipeline = Pipeline(description="Included dag", steps=[initialize, training, report])

if __name__ == "__main__":
    pipeline.execute()
