"""The remote driver's command line (``magnus-k8s-driver``, ``python -m
magnus_render.driver_cli``): run a pipeline with the configured executor (k8s-job,
aws-batch, local-container), or resume the run when ``--run-id`` names one that exists.

argparse, not typer: a driver pod starts it once per run, and it needs four options.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse the driver's options, run or resume; a MagnusError is its message and exit
    code (no traceback), Ctrl-C is 130."""
    from magnus_render.errors import MagnusError

    parser = argparse.ArgumentParser(
        prog=prog or "magnus-k8s-driver",
        description="A remote driver (k8s-job, aws-batch, ...): run or resume a pipeline run.",
    )
    parser.add_argument("--file", "-f", required=True)
    parser.add_argument("--config-file", "-c")
    parser.add_argument("--parameters-file", "-p")
    parser.add_argument("--run-id", required=True)
    parser.add_argument(
        "--as-is-target",
        help="run as-is steps with their render_string for this target (a rendered driver)",
    )
    args = parser.parse_args(argv)
    from magnus_render.runtime.resume import drive

    try:
        return drive(
            args.file, args.config_file, args.parameters_file, args.run_id, args.as_is_target
        )
    except MagnusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(prog="python -m magnus_render.driver_cli"))
