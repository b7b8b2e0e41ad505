from pydantic import BaseModel


class InnerModel(BaseModel):
    x: int
    y: str


class NestedModel(BaseModel):
    simple: int
    inner: InnerModel


def display(simple: int, inner: InnerModel):
    """Parameters arrive as arguments, cast to the annotated types."""
    assert isinstance(inner, InnerModel)
    print(f"simple={simple} inner={inner}")


def modify(simple: int, inner: InnerModel) -> NestedModel:
    """A returned pydantic model's fields become parameters of the later steps."""
    return NestedModel(simple=simple + 1, inner=InnerModel(x=inner.x * 2, y=inner.y + " world"))


def check(simple: int, inner: dict):
    assert simple == 2 and inner == {"x": 20, "y": "hello world"}
    return {"checked": True}
