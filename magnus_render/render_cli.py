"""`magnus-render`: compile a pipeline for a target, or render every spec of a manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from magnus_render.cli_common import ConfigOpt, DebugOpt, ParamsOpt, PipelineArg, guard


def _app(help: str) -> typer.Typer:
    """One of the two faces of `magnus-render` (render_main picks by --manifest)."""
    return typer.Typer(
        name="magnus-render", help=help, add_completion=False, pretty_exceptions_enable=False
    )


render_app = _app("Compile a magnus pipeline into an orchestrator's spec.")


@render_app.command()
def render(
    pipeline: Path | None = PipelineArg,
    target: str | None = typer.Option(None, "--target", "-t", help="See --list-targets."),
    config_file: Path | None = ConfigOpt,
    parameters_file: Path | None = ParamsOpt,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
    image: str | None = typer.Option(None, "--image", help="Container image for every step."),
    check: Path | None = typer.Option(
        None, "--check", help="Exit 1 with a diff when this committed file is out of date."
    ),
    validate_output: bool = typer.Option(False, "--validate", help="Validate the output first."),
    kind: str | None = typer.Option(
        None, "--kind", help="argo: Workflow, WorkflowTemplate, CronWorkflow."
    ),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron schedule."),
    timezone: str | None = typer.Option(None, "--timezone"),
    with_infra: bool = typer.Option(False, "--with-infra", help="stepfunctions: CloudFormation."),
    run_id: str | None = typer.Option(
        None, "--run-id", help="k8s-jobs: the run id (and driver Job name); default generated."
    ),
    use_cached: str | None = typer.Option(
        None, "--use-cached", help="k8s-jobs: re-run, reusing the successful steps of this run."
    ),
    list_targets: bool = typer.Option(False, "--list-targets", help="List targets and exit."),
    debug: bool = DebugOpt,
) -> None:
    """Render PIPELINE for --target and print it (or write --output).

    `magnus-render --manifest render.yaml [--check]` renders (or checks) every output a
    render manifest lists instead.
    """

    def body() -> int:
        from magnus_render.render import render_command

        return render_command(
            pipeline=pipeline,
            target=target,
            config_file=config_file,
            parameters_file=parameters_file,
            output=output,
            image=image,
            check=check,
            validate=validate_output,
            list_only=list_targets,
            extra={
                "kind": kind,
                "schedule": schedule,
                "timezone": timezone,
                "with_infra": with_infra,
                "run_id": run_id,
                "use_cached": use_cached,
            },
        )

    guard(body)


manifest_app = _app("Render or check every spec a render manifest lists.")


@manifest_app.command()
def render_manifest(
    manifest: Path = typer.Option(..., "--manifest", help="The render manifest (render.yaml)."),
    check: bool = typer.Option(
        False, "--check", help="Exit 1 listing (with diffs) every file out of date."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Render in N processes (default: by CPU count)."
    ),
    debug: bool = DebugOpt,
) -> None:
    """Render every pipeline the manifest lists into the tree (or --check the tree)."""

    def body() -> int:
        from magnus_render.gitops import run_manifest

        return run_manifest(manifest, check, jobs)

    guard(body)


def render_main() -> None:
    args = sys.argv[1:]
    if any(a == "--manifest" or a.startswith("--manifest=") for a in args):
        manifest_app()  # --check is a flag here, not a file to compare with
    else:
        render_app()
