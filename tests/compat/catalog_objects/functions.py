from pydantic import BaseModel

from magnus import get_object, put_object


class Eggs(BaseModel):
    ham: str
    count: int


def put():
    put_object(Eggs(ham="spam", count=3), name="eggs")
    put_object({"pair": (1, 2), "items": {3, 4}}, name="python_types")


def get():
    eggs = get_object("eggs")
    assert eggs == Eggs(ham="spam", count=3)
    assert get_object("python_types") == {"pair": (1, 2), "items": {3, 4}}
    try:
        get_object("never_put")
    except Exception as exc:
        assert "never_put" in str(exc)
    else:
        raise AssertionError("get_object of an unknown name must raise")
