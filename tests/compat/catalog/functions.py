import shutil
from pathlib import Path

from magnus import get_from_catalog, put_in_catalog


def create():
    Path("data").mkdir(exist_ok=True)
    Path("data/hello.txt").write_text("Hello from magnus\n")
    Path("data/sub").mkdir(exist_ok=True)
    Path("data/sub/nested.csv").write_text("a,b\n1,2\n")


def wipe_local():
    """Nothing survives locally: the next steps must get their files from the catalog."""
    shutil.rmtree("data")


def check_shell_output():
    assert Path("data/hello.txt").read_text() == "Hello from magnus\n"
    assert Path("data/world.txt").read_text() == "Hello from magnus\n"


def use_api():
    shutil.rmtree("data")
    get_from_catalog("data/world.txt")
    assert Path("data/world.txt").read_text() == "Hello from magnus\n"
    Path("data/api.txt").write_text("put through the API\n")
    put_in_catalog("data/api.txt")
