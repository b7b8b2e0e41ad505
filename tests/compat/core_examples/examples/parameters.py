"""The python task of examples/parameters_env.yaml: parameters by name, cast by annotation."""

from pydantic import BaseModel


class InnerModel(BaseModel):
    x: int
    y: str


def display(simple: int, inner: InnerModel):
    print(simple)
    print(inner)
