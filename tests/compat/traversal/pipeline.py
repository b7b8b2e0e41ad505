"""Custom terminal nodes, chaining with >> and <<, depends_on and terminate_with_failure."""

from magnus import Fail, Pipeline, Stub, Success, Task


def main():
    step_1 = Stub(name="step_1", what="any extra field is fine on a stub")
    step_2 = Stub(name="step_2")
    step_3 = Task(name="step_3", command="functions.raise_exception", on_failure="step_4")
    step_4 = Stub(name="step_4", terminate_with_failure=True)
    done = Success(name="done")
    broken = Fail(name="broken")

    step_1 >> step_2
    step_3.depends_on(step_2)
    done << step_3  # done runs after step_3 succeeds (it will not)

    pipeline = Pipeline(
        steps=[step_1, step_2, step_3, step_4, done, broken],
        start_at=step_1,
        add_terminal_nodes=False,
    )
    pipeline.execute()


if __name__ == "__main__":
    main()
