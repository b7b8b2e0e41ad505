"""Tasks of examples/concepts/catalog.yaml: write a file in two folders, read both back."""

from pathlib import Path


def create_content_in_data_folder():
    Path("data").mkdir(parents=True, exist_ok=True)
    Path("data/hello.txt").write_text("Hello from data folder!!")


def create_content_in_another_folder():
    Path("another").mkdir(parents=True, exist_ok=True)
    Path("another/world.txt").write_text("Hello from another folder!!")


def retrieve_content_from_both():
    print(Path("data/hello.txt").read_text())
    print(Path("another/world.txt").read_text())
