import json
import os


def start():
    return {"x": 1}


def read_env():
    """magnus 0.5 put every parameter in os.environ as MAGNUS_PRM_<name> (JSON)."""
    assert json.loads(os.environ["MAGNUS_PRM_x"]) == 1  # noqa: SIM112
    os.environ["MAGNUS_PRM_from_env"] = json.dumps("via the environment")  # noqa: SIM112
