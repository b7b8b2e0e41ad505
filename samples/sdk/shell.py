"""samples/shell.yaml written with the SDK: shell steps passing parameters."""

from magnus_render.sdk import Pipeline, Stub, Task

greet = Task(
    name="greet",
    command_type="shell",
    command=(
        'echo "hello from bash"\nexport MAGNUS_PRM_count=3\nexport MAGNUS_PRM_word=\'"spam"\'\n'
    ),
)
repeat = Task(
    name="repeat",
    command_type="shell",
    command=(
        'test "$MAGNUS_PRM_count" = 3\n'
        'for i in $(seq "$MAGNUS_PRM_count"); do echo "$i $MAGNUS_PRM_word"; done\n'
        'echo "to stderr" >&2\n'
        "export MAGNUS_PRM_total=$((MAGNUS_PRM_count * 2))\n"
    ),
)
done = Stub(name="done", terminate_with_success=True)
greet >> repeat >> done

pipeline = Pipeline(description="Shell tasks passing parameters", steps=[greet, repeat, done])

if __name__ == "__main__":
    pipeline.execute()
