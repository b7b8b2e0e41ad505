def prepare():
    return {"count": 3, "name": "magnus"}


def after(greeting: str, count: int):
    assert greeting == "hello magnus" and count == 3
