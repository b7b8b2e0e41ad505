from pydantic import BaseModel

from magnus import get_parameter, set_parameter


class InnerModel(BaseModel):
    x: int
    y: str


def set_params():
    set_parameter(simple=1, inner=InnerModel(x=10, y="hello"))


def get_params():
    simple = get_parameter("simple", cast_as=int)
    inner = get_parameter("inner", cast_as=InnerModel)
    assert simple == 1 and inner == InnerModel(x=10, y="hello")
    everything = get_parameter()
    assert everything == {"simple": 1, "inner": {"x": 10, "y": "hello"}}
    set_parameter(simple=simple + 1, inner=InnerModel(x=inner.x * 2, y=inner.y))


def missing():
    try:
        get_parameter("nope")
    except Exception as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("a missing parameter must raise")
