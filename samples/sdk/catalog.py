"""samples/catalog.yaml written with the SDK: files move between steps via the catalog."""

from magnus_render.sdk import Catalog, Pipeline, Task

write = Task(
    name="write",
    command="samples.functions.write_data",
    catalog=Catalog(put=["data/raw.txt", "data/*.json"]),
)
read = Task(
    name="read",
    command="samples.functions.read_data",
    catalog=Catalog(get=["data/raw.txt", "data/meta.json"], put=["data/result.txt"]),
    terminate_with_success=True,
)
write >> read

pipeline = Pipeline(description="Catalog put and get", steps=[write, read], start_at=write)

if __name__ == "__main__":
    pipeline.execute()
