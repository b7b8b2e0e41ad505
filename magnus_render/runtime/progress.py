"""Progress on the console: plain lines (to stderr) or, on a terminal, a rich live view.

rich is imported only when stderr is a terminal, so containers and CI never pay for it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

from magnus_render.stores.models import Status

_MARKS = {Status.SUCCESS: "ok", Status.FAIL: "FAILED"}


class PlainReporter:
    """One line per event; safe to interleave with task output."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()

    def __call__(self, event: str, **info: Any) -> None:
        name = info.get("name", "")
        if event == "start":
            attempts = info.get("attempts") or 1
            extra = f" (attempt {info['attempt']}/{attempts})" if attempts > 1 else ""
            self._line(f"▶ {name}{extra}")
        elif event == "end":
            status = info["status"]
            msg = f": {info['message']}" if info.get("message") else ""
            self._line(
                f"{'✓' if status is Status.SUCCESS else '✗'} {name} "
                f"{_MARKS.get(status, status.value)} in {info.get('seconds', 0):.2f}s{msg}"
            )
        elif event == "mocked":
            self._line(f"↷ {name} skipped ({info.get('why', '')})")
        elif event == "run":
            self._line(info["text"])

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        try:
            self.stream.write(f"[{elapsed:7.2f}s] {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        return None


class RichReporter(PlainReporter):
    """Done/failed lines printed above a live line showing the running step.

    Everything user-written (step names, messages, task output) reaches rich as Text, never
    as markup: a name like ``[/bold]`` is shown as written. Should rich fail anyway, the view
    stops and progress goes on as plain lines: a display never ends a run.
    """

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner
        from rich.text import Text

        self._spinner_cls = Spinner
        self._text = Text
        # the real stream, captured before Live redirects sys.stdout/sys.stderr (a console
        # writing to the redirected stream would feed itself forever)
        self.console = Console(file=sys.stderr)
        self.live = Live(
            Spinner("dots", Text("starting")),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=True,
            redirect_stderr=True,
            transient=True,
        )
        self._plain = False
        self.live.start()

    def __call__(self, event: str, **info: Any) -> None:
        if self._plain:
            super().__call__(event, **info)
            return
        try:
            self._show(event, info)
        except Exception as exc:  # a display problem must not fail the run: go plain
            self._plain = True
            self.close()
            super().__call__("run", text=f"(live progress stopped: {type(exc).__name__})")
            super().__call__(event, **info)

    def _show(self, event: str, info: dict[str, Any]) -> None:
        text = self._text
        elapsed = time.monotonic() - self.started
        name = str(info.get("name", ""))
        if event == "start":
            attempts = info.get("attempts") or 1
            extra = f" attempt {info['attempt']}/{attempts}" if attempts > 1 else ""
            label = text(f"{name}{extra}  [{elapsed:.1f}s]")
            self.live.update(self._spinner_cls("dots", label), refresh=True)
        elif event == "end":
            ok = info["status"] is Status.SUCCESS
            line = text.assemble(
                ("✓", "green") if ok else ("✗", "red"),
                f" {name} ",
                (f"{info.get('seconds', 0):.2f}s", "dim"),
            )
            if info.get("message") and not ok:
                line.append(f" {info['message']}", style="dim")
            self.console.print(line, highlight=False)
        elif event == "mocked":
            self.console.print(text(f"↷ {name} reused", style="dim"), highlight=False)
        elif event == "run":
            self.console.print(text(str(info["text"])), highlight=False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.live.stop()


def make_reporter(quiet: bool = False) -> Any:
    if quiet:
        return None
    if sys.stderr.isatty():
        try:
            return RichReporter()
        except Exception:
            return PlainReporter()
    return PlainReporter()
