def prepare():
    return {"x": 2}


def square(x: int):
    return {"squared": x * x}


def cube(x: int):
    return {"cubed": x**3}


def combine(squared: int, cubed: int):
    assert (squared, cubed) == (4, 8)
