"""samples/nested.yaml written with the SDK: map -> parallel -> map, built bottom up."""

from magnus_render.sdk import Map, Parallel, Pipeline, Task


def seeds_over(name: str, command: str) -> Pipeline:
    """A branch that maps one task over every seed."""
    task = Task(name=name, command=command, terminate_with_success=True)
    seeds = Map(
        name="seeds",
        iterate_on="seeds",
        iterate_as="seed",
        branch=Pipeline(steps=[task], start_at=task),
        terminate_with_success=True,
    )
    return Pipeline(steps=[seeds], start_at=seeds)


work = Parallel(
    name="work",
    branches={
        "fitting": seeds_over("fit", "samples.functions.fit"),
        "evaluation": seeds_over("evaluate", "samples.functions.evaluate"),
    },
    terminate_with_success=True,
)
grid = Task(name="grid", command="samples.functions.make_grid")
regions = Map(
    name="regions",
    iterate_on="regions",
    iterate_as="region",
    branch=Pipeline(steps=[work], start_at=work),
    terminate_with_success=True,
)
grid >> regions

pipeline = Pipeline(description="Nested map, parallel and map", steps=[grid, regions])

if __name__ == "__main__":
    pipeline.execute()
