"""Render-time checks of ``--schedule`` and ``--timezone`` for Argo CronWorkflow and
Kubernetes CronJob, so a typo fails here and not as a controller event nobody reads.

Both controllers parse schedules with robfig/cron's standard parser: five fields (minute
hour day-of-month month day-of-week), each ``*``, ``?``, a number, a range ``a-b``, a step
``/n`` and lists of those; month and weekday names (``JAN``, ``MON``); and the macros
``@yearly``/``@annually``/``@monthly``/``@weekly``/``@daily``/``@midnight``/``@hourly``
and ``@every DURATION``. This grammar is small and exact, so it is checked here rather
than with croniter, which accepts more (``L``, ``#``, ``W``, seconds and year fields) than
these controllers do and would need this check anyway. Timezones are IANA names, checked
with :mod:`zoneinfo`.
"""

from __future__ import annotations

import re

from magnus_render.errors import ConfigError

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: (name, lowest, highest, names usable in place of numbers)
FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    (
        "month",
        1,
        12,
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    ),
    ("day-of-week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def check_schedule(schedule: str, flag: str = "--schedule") -> None:
    """Raise ConfigError naming ``flag`` when ``schedule`` is not a valid cron schedule."""
    text = schedule.strip()
    if not text:
        raise ConfigError(f"{flag}: the schedule is empty")
    if text.startswith("@"):
        word, _, rest = text.partition(" ")
        if word == "@every":
            if not _DURATION.match(rest.strip()):
                raise ConfigError(
                    f"{flag} {schedule!r}: @every needs a duration such as 1h30m or 90s"
                )
            return
        if word not in MACROS or rest.strip():
            raise ConfigError(
                f"{flag} {schedule!r}: unknown macro; use one of {', '.join(MACROS)} or "
                "@every DURATION"
            )
        return
    fields = text.split()
    if len(fields) != 5:
        raise ConfigError(
            f"{flag} {schedule!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)}"
        )
    for value, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        problem = _field_problem(value, low, high, names)
        if problem:
            raise ConfigError(f"{flag} {schedule!r}: {name} field {value!r}: {problem}")


def _field_problem(value: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    for part in value.split(","):
        if not part:
            return "empty list item"
        span, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            return f"step {step!r} must be a positive number"
        if span in ("*", "?"):
            continue
        start, dash, end = span.partition("-")
        bounds = []
        for word in (start, end) if dash else (start,):
            number = _number(word, names)
            if number is None:
                return f"{word!r} is not a number" + (
                    f" or one of {', '.join(names)}" if names else ""
                )
            if not low <= number <= high:
                return f"{number} is outside {low}-{high}"
            bounds.append(number)
        if dash and bounds[0] > bounds[1]:
            return f"range {span!r} runs backwards"
    return None


def _number(word: str, names: tuple[str, ...]) -> int | None:
    if word.isdigit():
        return int(word)
    upper = word.upper()
    if upper in names:
        return names.index(upper) + (1 if len(names) == 12 else 0)
    return None


def check_timezone(timezone: str, flag: str = "--timezone") -> None:
    """Raise ConfigError naming ``flag`` unless ``timezone`` is an IANA timezone name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    problem = None
    if not timezone or timezone != timezone.strip() or timezone.startswith(("/", ".")):
        problem = "not a timezone name"
    else:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            problem = "unknown timezone (use an IANA name such as Europe/Paris or UTC)"
    if problem:
        raise ConfigError(f"{flag} {timezone!r}: {problem}")
