"""samples/hello.yaml written with the SDK: a linear python pipeline chained with >>."""

from magnus_render.sdk import Pipeline, Task

initialize = Task(name="initialize", command="samples.functions.initialize")
double = Task(name="double", command="samples.functions.double")
train = Task(name="train", command="samples.functions.train")
report = Task(name="report", command="samples.functions.report", terminate_with_success=True)

initialize >> double >> train >> report

pipeline = Pipeline(
    description="Linear python pipeline with parameters and a metric",
    steps=[initialize, double, train, report],
    start_at=initialize,
)

if __name__ == "__main__":
    pipeline.execute()
