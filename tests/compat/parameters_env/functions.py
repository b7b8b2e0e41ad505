def start(greeting: str):
    """``greeting`` came from MAGNUS_PRM_greeting in the caller's environment."""
    assert greeting == "hi there"
    return {"x": 1, "config": {"rate": 0.5}}


def finish(x: int, y: str, config: dict, z: int):
    """y and z were exported by the shell step."""
    assert (x, y, config, z) == (1, "from shell", {"rate": 0.5}, 2)
