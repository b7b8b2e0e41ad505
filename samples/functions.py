"""Python tasks of the sample pipelines. Arguments bind by name from parameters."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel


class Settings(BaseModel):
    learning_rate: float
    epochs: int


def initialize(greeting: str = "hello") -> dict:
    """First step: publish a few parameters of different types."""
    print(f"{greeting} from magnus-render")
    return {"x": 3, "settings": {"learning_rate": 0.1, "epochs": 2}, "greeting": greeting}


def double(x: int) -> dict:
    return {"x": 2 * x}


def train(settings: Settings, x: int) -> dict:
    """A pydantic model argument is cast from the parameter's dict."""
    from magnus_render import track_this

    score = round(settings.learning_rate * settings.epochs * x, 6)
    track_this(score=score)
    return {"score": score}


def report(score: float, greeting: str) -> None:
    print(f"{greeting}: score {score}")


def make_chunks(count: int = 3) -> dict:
    return {"chunks": [f"part-{i}" for i in range(count)]}


def process_chunk(chunk: str, scale: int = 10) -> dict:
    """Runs once per map iteration; sees only its own chunk."""
    return {"processed": f"{chunk}x{scale}", "size": len(chunk) * scale}


def summarize(processed: list, size: list) -> dict:
    """After the map, every iteration's output arrives as a list in iteration order."""
    return {"summary": ",".join(processed), "total": sum(size)}


def make_grid() -> dict:
    return {"regions": ["eu", "us"], "seeds": [1, 2]}


def fit(region: str, seed: int) -> dict:
    return {"fitted": f"{region}-{seed}"}


def evaluate(region: str, seed: int) -> dict:
    from magnus_render import track_this

    track_this(quality=seed * 0.5)
    return {"evaluated": f"{region}:{seed}"}


def fail_always() -> None:
    raise RuntimeError("this step fails on purpose")


def recover() -> dict:
    return {"recovered": True}


def flaky(succeed_on: int = 3) -> dict:
    """Fails until the attempt number (set by the runtime) reaches ``succeed_on``."""
    attempt = int(os.environ.get("MAGNUS_ATTEMPT_NUMBER", "1"))
    if attempt < succeed_on:
        raise RuntimeError(f"attempt {attempt} failed on purpose")
    return {"attempts_needed": attempt}


def write_data() -> None:
    """Writes files into the data folder; the catalog puts them after the step."""
    folder = Path("data")
    folder.mkdir(exist_ok=True)
    (folder / "raw.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (folder / "meta.json").write_text(json.dumps({"rows": 3}), encoding="utf-8")


def read_data() -> dict:
    """Reads what the catalog got for this step and writes a result for the next."""
    lines = Path("data/raw.txt").read_text(encoding="utf-8").splitlines()
    rows = json.loads(Path("data/meta.json").read_text(encoding="utf-8"))["rows"]
    assert len(lines) == rows, "catalog delivered inconsistent files"
    Path("data/result.txt").write_text(lines[-1].upper(), encoding="utf-8")
    return {"rows": rows}
