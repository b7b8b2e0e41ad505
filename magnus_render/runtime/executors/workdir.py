"""A private working directory for one branch run by a parallel local worker.

Why: branches and map iterations that run at once would otherwise share the compute data
folder, so one iteration's file is put into another's catalog namespace. Each branch runs
with its cwd in a fresh temporary folder that mirrors the working directory:

- every top-level entry is a symbolic link to the real one (sources, config, the run log
  store and catalog folders), so relative paths and Python imports keep working;
- along the path of ``compute_data_folder`` (e.g. ``data``) the folders are real, and the
  data folder itself is a private copy;
- when the data folder is the working directory itself (``.``), its top-level files are
  private copies and its sub-folders stay links: new files and top-level files are private,
  a catalog ``get`` replaces a link by a private file or folder, but a task that writes
  into an existing sub-folder writes the shared one.

When the branch ends, every regular file it created or changed in its private folder
is moved to the same place in the working directory (so nothing a task wrote is lost;
when branches write the same name, the last to finish wins, as the last iteration does
in a sequential run) and the private folder is removed. An absolute data folder, or one
outside the working directory, is not isolated.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePath
from typing import Any


def data_parts(compute_data_folder: str) -> tuple[str, ...] | None:
    """The data folder's path below the working directory, or None if it is not below it."""
    pure = PurePath(os.path.normpath(compute_data_folder))
    if pure.is_absolute() or (pure.parts and pure.parts[0] == ".."):
        return None
    return tuple(p for p in pure.parts if p != ".")


def link_entries(source: Path, target: Path, skip: str | None = None) -> None:
    """Link each entry of ``source`` into ``target`` (absolute links), except ``skip``."""
    with os.scandir(source) as entries:
        for entry in entries:
            if entry.name != skip:
                os.symlink(os.path.join(source, entry.name), target / entry.name)


Stamps = dict[str, tuple[int, int]]


def _stamp(path: str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_size, st.st_mtime_ns


def build(origin: Path, private: Path, parts: tuple[str, ...]) -> Stamps:
    """Fill ``private`` as the mirror of ``origin`` described in the module docstring;
    returns (size, mtime) of every copied file, to tell later which ones changed."""
    source, target = origin, private
    for part in parts:
        if source.is_dir():
            link_entries(source, target, skip=part)
        source, target = source / part, target / part
        target.mkdir(exist_ok=True)
    if parts:
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        with os.scandir(origin) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    shutil.copy2(entry.path, private / entry.name)
                else:
                    os.symlink(os.path.join(origin, entry.name), private / entry.name)
    return {rel: _stamp(str(private / rel)) for rel in _files(private)}


def _files(root: Path) -> list[str]:
    """Regular files below ``root`` (links, and folders behind links, are not entered)."""
    found = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                found.append(os.path.relpath(path, root))
    return found


def sync_back(private: Path, origin: Path, copied: Stamps) -> None:
    """Move the files the branch created or changed into the working directory."""
    for rel in sorted(_files(private)):
        source = private / rel
        if copied.get(rel) == _stamp(str(source)):
            continue
        target = origin / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        shutil.move(source, target)


class PrivateWorkdir:
    """Context manager: run the body with its cwd in a private mirror (see module doc)."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog
        self.origin = Path.cwd()
        self.private: Path | None = None
        self.copied: Stamps = {}

    def __enter__(self) -> PrivateWorkdir:
        parts = data_parts(str(self.catalog.settings.compute_data_folder))
        if parts is None:
            return self
        root = getattr(self.catalog, "root", None)  # a relative catalog folder must be
        if isinstance(root, Path) and not root.is_absolute():  # linked, so it must exist
            (self.origin / root).mkdir(parents=True, exist_ok=True)
        self.private = Path(tempfile.mkdtemp(prefix="magnus-branch-"))
        try:
            self.copied = build(self.origin, self.private, parts)
        except BaseException:
            shutil.rmtree(self.private, ignore_errors=True)
            raise
        if str(self.origin) not in sys.path:
            sys.path.insert(0, str(self.origin))
        self.catalog.mirror_of = [str(self.origin.joinpath(*parts))]
        os.chdir(self.private)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.private is None:
            return
        os.chdir(self.origin)
        self.catalog.mirror_of = []
        sys.path[:] = [p for p in sys.path if p != str(self.private)]
        try:
            sync_back(self.private, self.origin, self.copied)
        finally:
            shutil.rmtree(self.private, ignore_errors=True)
