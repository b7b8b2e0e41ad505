from magnus import Pipeline, Task


def main():
    hello = Task(name="hello", command="functions.hello")
    shell = Task(
        name="shell",
        command_type="shell",
        command='echo "hello from the shell"',
        terminate_with_success=True,
    )
    hello >> shell

    pipeline = Pipeline(steps=[hello, shell], start_at=hello, add_terminal_nodes=True)
    pipeline.execute()


if __name__ == "__main__":
    main()
