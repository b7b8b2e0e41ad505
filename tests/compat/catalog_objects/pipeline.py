from magnus import Pipeline, Task


def main():
    put = Task(name="put_objects", command="functions.put")
    get = Task(name="get_objects", command="functions.get", terminate_with_success=True)
    put >> get
    Pipeline(steps=[put, get], start_at=put).execute()


if __name__ == "__main__":
    main()
