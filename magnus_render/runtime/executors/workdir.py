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

A worker that runs many small branches (a map over thousands of items) keeps its private
folder for the next branch when nothing in it changed and nothing it mirrors changed
(see :class:`Kept`): making a link per top-level entry and a copy of every data file,
then removing them, for every iteration cost more than most iterations. Copies keep the
original's mtime (``copy2``), so a task that rewrites a copy changes its (size, mtime)
stamp and the folder is rebuilt.
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
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    pending.append((entry.path, prefix + entry.name + os.sep))
                else:
                    found.append(prefix + entry.name)
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


Signature = tuple[tuple[str, str], ...]


def signature(root: Path) -> Signature:
    """Every entry below ``root`` (links not entered): its kind and link target or
    (size, mtime); equal signatures mean nothing was created, removed or changed."""
    found: list[tuple[str, str]] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    found.append((rel, "link " + os.readlink(entry.path)))
                elif entry.is_dir():
                    found.append((rel, "dir"))
                    pending.append((entry.path, rel + os.sep))
                else:
                    st = entry.stat(follow_symlinks=False)
                    found.append((rel, f"file {st.st_size} {st.st_mtime_ns}"))
    return tuple(sorted(found))


def origin_signature(origin: Path, parts: tuple[str, ...]) -> Signature:
    """What a mirror of ``origin`` depends on: the names at each level along the data
    folder's path and (size, mtime) of every file it copies: those below the data folder,
    or the top-level files when the data folder is the working directory itself."""
    found: list[tuple[str, str]] = []
    source = origin
    for part in parts:
        if source.is_dir():
            found.extend((str(source), name) for name in sorted(os.listdir(source)))
        source = source / part
    if not parts:
        with os.scandir(origin) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found.append((entry.name, f"file {st.st_size} {st.st_mtime_ns}"))
                else:
                    found.append((entry.name, "other"))
    elif source.is_dir():
        for rel in _files(source):
            found.append((rel, f"file {_stamp(str(source / rel))}"))
    return tuple(sorted(found))


class Kept:
    """A worker's private folder kept between branches: ``mirror`` is its signature as
    built, ``source`` the signature of what it mirrors at that time, ``copied`` the
    stamps of the files copied into it."""

    def __init__(self, private: Path, origin: Path, parts: tuple[str, ...], copied: Stamps) -> None:
        self.private, self.origin, self.parts = private, origin, parts
        self.copied = copied
        self.mirror = signature(private)
        self.source = origin_signature(origin, parts)

    def reusable(self, origin: Path, parts: tuple[str, ...]) -> bool:
        same = (origin, parts) == (self.origin, self.parts)
        return same and origin_signature(origin, parts) == self.source


#: this process's kept folder (workers are forked, so each has its own)
_kept: Kept | None = None


class PrivateWorkdir:
    """Context manager: run the body with its cwd in a private mirror (see module doc).

    With ``keep_in`` (a folder the caller removes at the end), the private folder is made
    there and kept for the next branch of this process when still an exact mirror.
    """

    def __init__(self, catalog: Any, keep_in: Path | None = None) -> None:
        self.catalog = catalog
        self.origin = Path.cwd()
        self.private: Path | None = None
        self.copied: Stamps = {}
        self.keep_in = keep_in
        self.parts: tuple[str, ...] = ()
        self.kept: Kept | None = None

    def __enter__(self) -> PrivateWorkdir:
        global _kept
        parts = data_parts(str(self.catalog.settings.compute_data_folder))
        if parts is None:
            return self
        self.parts = parts
        kept, _kept = _kept, None
        if kept is not None and self.keep_in is not None and kept.reusable(self.origin, parts):
            self.private, self.kept, self.copied = kept.private, kept, kept.copied
        else:
            if kept is not None:
                shutil.rmtree(kept.private, ignore_errors=True)
            root = getattr(self.catalog, "root", None)  # a relative catalog folder must
            if isinstance(root, Path) and not root.is_absolute():  # be linked: it must exist
                (self.origin / root).mkdir(parents=True, exist_ok=True)
            self.private = Path(tempfile.mkdtemp(prefix="magnus-branch-", dir=self.keep_in))
            try:
                self.copied = build(self.origin, self.private, parts)
                if self.keep_in is not None:
                    self.kept = Kept(self.private, self.origin, parts, self.copied)
            except BaseException:
                shutil.rmtree(self.private, ignore_errors=True)
                raise
        if str(self.origin) not in sys.path:
            sys.path.insert(0, str(self.origin))
        self.catalog.mirror_of = [str(self.origin.joinpath(*parts))]
        os.chdir(self.private)
        return self

    def __exit__(self, *exc: object) -> None:
        global _kept
        if self.private is None:
            return
        os.chdir(self.origin)
        self.catalog.mirror_of = []
        sys.path[:] = [p for p in sys.path if p != str(self.private)]
        keep = False
        try:
            sync_back(self.private, self.origin, self.copied)
            keep = self.kept is not None and signature(self.private) == self.kept.mirror
            if keep:
                _kept = self.kept
        finally:
            if not keep:
                shutil.rmtree(self.private, ignore_errors=True)
