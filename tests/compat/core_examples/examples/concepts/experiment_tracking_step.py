"""Metrics per step through the API (magnus-core examples/concepts/experiment_tracking_step.py).

Run it as: python examples/concepts/experiment_tracking_step.py
"""

from pydantic import BaseModel

from magnus import Pipeline, Task, track_this


class EggsModel(BaseModel):
    ham: str


def emit_metrics():
    track_this(step=0, spam="hello", eggs=EggsModel(ham="world"))
    track_this(step=1, spam="hey", eggs=EggsModel(ham="universe"))
    track_this(answer=42.0)
    track_this(is_it_true=False)


def main():
    metrics = Task(
        name="Emit Metrics",
        command="examples.concepts.experiment_tracking_step.emit_metrics",
        terminate_with_success=True,
    )
    Pipeline(steps=[metrics], start_at=metrics, add_terminal_nodes=True).execute()


if __name__ == "__main__":
    main()
