from magnus import get_experiment_tracker_context, track_this


def train():
    track_this(accuracy=0.9, model="forest")
    for epoch, loss in enumerate([0.5, 0.25], start=1):
        track_this(step=epoch, loss=loss)
    with get_experiment_tracker_context():
        pass
