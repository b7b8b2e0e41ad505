from magnus import Pipeline, Task


def main():
    set_params = Task(name="set_params", command="functions.set_params")
    get_params = Task(name="get_params", command="functions.get_params")
    missing = Task(name="missing", command="functions.missing", terminate_with_success=True)
    set_params >> get_params >> missing

    pipeline = Pipeline(steps=[set_params, get_params, missing], start_at=set_params)
    pipeline.execute()


if __name__ == "__main__":
    main()
