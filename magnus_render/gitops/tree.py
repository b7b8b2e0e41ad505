"""Which files of the repository may be this manifest's earlier outputs.

A spec stays deployed as long as its file is in the tree, so a stale output must be found
wherever the manifest once wrote it: after a pipeline is deleted, but also after an entry is
removed or its output folder renamed, when no current entry points there any more. The
search covers the manifest's folder: the repository's files as git lists them (tracked and
untracked, without ignored ones), or a walk that skips hidden folders outside git; plus each
current output folder (it may be ignored or a symlink). A subfolder with a manifest of the
same name is another project whose outputs carry the same header: it is left out.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import PurePosixPath

from magnus_render.gitops.manifest import RenderJob


def candidates(jobs: Iterable[RenderJob], manifest_file: str) -> list[str]:
    """Paths (relative, posix, sorted) of files that may carry the manifest's header."""
    files = _git_files()
    if files is None:
        files = _walked_files()
    for folder in {os.path.dirname(job.output) or "." for job in jobs}:
        if os.path.isdir(folder):
            for entry in os.scandir(folder):
                if entry.is_file():
                    files.add(os.path.normpath(os.path.join(folder, entry.name)))
    nested = {
        PurePosixPath(f).parent
        for f in files
        if PurePosixPath(f).name == manifest_file and "/" in f
    }
    return sorted(
        f
        for f in files
        if not nested.intersection(PurePosixPath(f).parents) and not os.path.islink(f)
    )  # a symlink is never one of ours: outputs are written as files


def _git_files() -> set[str] | None:
    """The files of the git work tree under the current folder; None outside git."""
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {name for name in names if name and os.path.isfile(name)}


def _walked_files() -> set[str]:
    files = set()
    for top, dirs, names in os.walk("."):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = os.path.normpath(os.path.join(top, name))
            if os.path.isfile(path):  # as git lists them: a FIFO or socket is no output
                files.add(path)
    return files
