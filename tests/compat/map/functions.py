import json
import os

from magnus import get_parameter


def generate():
    return {"chunks": [1, 2, 3], "scale": 10}


def process(chunk: int, scale: int):
    """``chunk`` is this iteration's value; MAGNUS_MAP_VARIABLE names it too."""
    assert json.loads(os.environ["MAGNUS_MAP_VARIABLE"]) == {"chunk": chunk}
    assert get_parameter("chunk") == chunk
    return {"processed": chunk * scale}


def collect(processed: list):
    assert processed == [10, 20, 30], processed
    return {"total": sum(processed)}
