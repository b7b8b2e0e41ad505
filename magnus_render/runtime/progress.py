"""Progress on the console: plain lines (to stderr) or, on a terminal, a rich live view.

rich is imported only when stderr is a terminal, so containers and CI never pay for it.
"""

from __future__ import annotations

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
    """Done/failed lines printed above a live line showing the running step."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner_cls = Spinner
        # the real stream, captured before Live redirects sys.stdout/sys.stderr (a console
        # writing to the redirected stream would feed itself forever)
        self.console = Console(file=sys.stderr)
        self.live = Live(
            Spinner("dots", "starting"),
            console=self.console,
            auto_refresh=False,
            redirect_stdout=True,
            redirect_stderr=True,
            transient=True,
        )
        self.live.start()

    def __call__(self, event: str, **info: Any) -> None:
        from rich.markup import escape

        elapsed = time.monotonic() - self.started
        # names and messages are user text, not rich markup: "[bold]" or "[/]" stay as written
        name = escape(str(info.get("name", "")))
        if event == "start":
            attempts = info.get("attempts") or 1
            extra = f" attempt {info['attempt']}/{attempts}" if attempts > 1 else ""
            self.live.update(
                self._spinner_cls("dots", f"{name}{extra}  [{elapsed:.1f}s]"), refresh=True
            )
        elif event == "end":
            ok = info["status"] is Status.SUCCESS
            mark = "[green]✓[/]" if ok else "[red]✗[/]"
            msg = f" [dim]{escape(info['message'])}[/]" if info.get("message") and not ok else ""
            self.console.print(
                f"{mark} {name} [dim]{info.get('seconds', 0):.2f}s[/]{msg}",
                markup=True,
                highlight=False,
            )
        elif event == "mocked":
            self.console.print(f"[dim]↷ {name} reused[/]", highlight=False)
        elif event == "run":
            self.console.print(info["text"], highlight=False, markup=False)

    def close(self) -> None:
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
