from magnus import Parallel, Pipeline, Stub, Task


def branch(name, command):
    task = Task(name=name, command=command)
    done = Stub(name="done", terminate_with_success=True)
    task >> done
    return Pipeline(steps=[task, done], start_at=task, add_terminal_nodes=True)


def main():
    prepare = Task(name="prepare", command="functions.prepare")
    both = Parallel(
        name="both",
        branches={
            "squares": branch("square", "functions.square"),
            "cubes": branch("cube", "functions.cube"),
        },
    )
    combine = Task(name="combine", command="functions.combine", terminate_with_success=True)
    prepare >> both >> combine

    Pipeline(steps=[prepare, both, combine], start_at=prepare).execute()


if __name__ == "__main__":
    main()
