"""The catalog interface: files and objects that move between steps of a run.

Entries are addressed by run id, a namespace (one segment per enclosing map iteration, so
iterations never overwrite each other) and a path relative to the compute data folder.
Everything here is byte-level (put/get of one relative path), so an S3 catalog only has
to implement four primitives; globbing, hashing and safety checks live in the base.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import ClassVar

from magnus_render.errors import MagnusError
from magnus_render.stores.models import DataCatalog
from magnus_render.stores.run_log_base import Configured, StoreSettings


class CatalogError(MagnusError):
    """A catalog operation cannot be done (bad glob, missing entry)."""

    exit_code = 1


class CatalogSettings(StoreSettings):
    #: globs are relative to this folder; magnus 0.5's default is the working directory
    compute_data_folder: str = "."


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_glob(pattern: str) -> None:
    """Refuse globs that would reach outside the data folder."""
    pure = PurePosixPath(pattern)
    if pure.is_absolute() or ".." in pure.parts or pattern.startswith("~"):
        raise CatalogError(f"catalog glob {pattern!r} escapes the data folder")


def check_rel(rel: str) -> str:
    """Refuse an entry name that is not a plain relative path (absolute, ``..``, empty):
    an entry is always written below its run's folder, never beside or above it."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\0" in rel:
        raise CatalogError(f"catalog entry name {rel!r} must be a relative path without '..'")
    return rel


#: longest namespace folder name kept as it is (file systems allow 255 bytes per name)
MAX_SEGMENT_BYTES = 200


def ns_segment(ns: str) -> str:
    """The folder (or key segment) of one map-iteration namespace: ``@name=value``.

    A long value would exceed the 255-byte limit of a file name, so a segment over
    MAX_SEGMENT_BYTES becomes a prefix of it plus a hash of the whole: deterministic, and
    recoverable from the run log (the branch log holds the map variable and every catalog
    entry's ``catalog_relative_path`` names the folder used)."""
    segment = NS_PREFIX + ns
    raw = segment.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_SEGMENT_BYTES:
        return segment
    digest = hashlib.sha256(raw).hexdigest()[:24]
    return raw[:120].decode("utf-8", "ignore") + "~" + digest


NS_PREFIX = "@"


class Catalog(Configured, ABC):
    settings_model: ClassVar[type[StoreSettings]] = CatalogSettings
    section = "catalog"

    def setup(self) -> None:
        super().setup()
        #: data folders this one mirrors (a parallel worker's private copy links back to
        #: the working directory's entries; a link there counts as inside)
        self.mirror_of: list[str] = []

    @property
    def data_folder(self) -> Path:
        return Path(self.settings.compute_data_folder)

    # -- primitives -------------------------------------------------------------------
    @abstractmethod
    def put_bytes(self, run_id: str, namespace: Sequence[str], rel: str, data: bytes) -> str:
        """Store bytes; returns where (for catalog_relative_path)."""

    @abstractmethod
    def get_bytes(self, run_id: str, namespace: Sequence[str], rel: str) -> bytes | None:
        """The bytes stored under exactly this namespace, or None."""

    @abstractmethod
    def list_entries(self, run_id: str, namespace: Sequence[str]) -> list[str]:
        """Relative paths stored directly under this namespace."""

    @abstractmethod
    def copy_run(self, old_run_id: str, new_run_id: str) -> None:
        """Copy every entry of one run to another (re-runs start from the old catalog)."""

    def location(self) -> str:
        return ""

    def holds(self, path: Path) -> bool:
        """Whether ``path`` is one of this catalog's own files (a local catalog inside the
        data folder, which is the working directory by default): never put back."""
        return False

    # -- built on the primitives ------------------------------------------------------
    def get(self, run_id: str, pattern: str, namespace: Sequence[str]) -> list[DataCatalog]:
        """Fetch entries matching ``pattern`` into the data folder. An iteration sees its own
        namespace first, then each enclosing one, then the run's root. A pattern that
        matches nothing is an error (as in magnus 0.5): the step needed those files."""
        check_glob(pattern)
        found: dict[str, tuple[Sequence[str], str]] = {}
        for depth in range(len(namespace), -1, -1):
            scope = namespace[:depth]
            for rel in self.list_entries(run_id, scope):
                if rel not in found and PurePosixPath(rel).match(pattern):
                    found[rel] = (scope, rel)
        entries = []
        for rel, (scope, _) in sorted(found.items()):
            check_rel(rel)
            data = self.get_bytes(run_id, scope, rel)
            if data is None:
                continue
            write_in_folder(self.data_folder, rel, data, self.mirror_of)
            entries.append(
                DataCatalog(
                    name=rel,
                    data_hash=hashlib.sha256(data).hexdigest(),
                    catalog_relative_path=_join(run_id, [ns_segment(n) for n in scope], rel),
                    catalog_handler_location=self.location(),
                    stage="get",
                )
            )
        if not entries:
            where = self.location() or self.name
            raise CatalogError(
                f"catalog get {pattern!r}: nothing in the catalog of run {run_id!r} ({where}) "
                "matches it"
            )
        return entries

    def put(
        self,
        run_id: str,
        pattern: str,
        namespace: Sequence[str],
        fetched: dict[str, str] | None = None,
    ) -> list[DataCatalog]:
        """Store files of the data folder matching ``pattern``. Files this step fetched and
        did not change (same hash) are not put back. A pattern that matches no file is an
        error (as in magnus 0.5): the step did not make what it promised."""
        check_glob(pattern)
        folder = self.data_folder
        entries = []
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        matched = [p for p in found if p.is_file() and not self.holds(p)]
        if not matched:
            raise CatalogError(
                f"catalog put {pattern!r}: no file matches it in the data folder "
                f"{str(folder)!r} (compute_data_folder; working directory {os.getcwd()})"
            )
        roots = [folder.resolve(), *(Path(m).resolve() for m in self.mirror_of)]
        for path in matched:
            if not any(path.resolve().is_relative_to(root) for root in roots):
                raise CatalogError(
                    f"catalog put {pattern!r}: {path} is a symbolic link (or inside one) that "
                    f"points outside the data folder {folder}; copy the file into it instead"
                )
            rel = path.relative_to(folder).as_posix()
            digest = file_hash(path)
            if fetched and fetched.get(rel) == digest:
                continue
            where = self.put_bytes(run_id, namespace, rel, path.read_bytes())
            entries.append(
                DataCatalog(
                    name=rel,
                    data_hash=digest,
                    catalog_relative_path=where,
                    catalog_handler_location=self.location(),
                    stage="put",
                )
            )
        return entries

    def put_object(
        self, run_id: str, namespace: Sequence[str], rel: str, data: bytes
    ) -> DataCatalog:
        check_rel(rel)
        where = self.put_bytes(run_id, namespace, rel, data)
        return DataCatalog(
            name=rel,
            data_hash=hashlib.sha256(data).hexdigest(),
            catalog_relative_path=where,
            catalog_handler_location=self.location(),
            stage="put",
        )

    def get_object(self, run_id: str, namespace: Sequence[str], rel: str) -> bytes:
        for depth in range(len(namespace), -1, -1):
            data = self.get_bytes(run_id, namespace[:depth], rel)
            if data is not None:
                return data
        raise CatalogError(f"no catalog entry {rel!r} in run {run_id!r}")


def _inside(path: Path, roots: Sequence[str]) -> bool:
    return any(path.is_relative_to(Path(root).resolve()) for root in roots)


def _materialise(link: Path) -> None:
    """Turn a mirror link to a folder into a private folder of links to its entries, so a
    file can be written there without touching the folder it mirrors."""
    source = link.resolve()
    link.unlink()
    link.mkdir()
    for entry in sorted(os.listdir(source)):
        os.symlink(source / entry, link / entry)


def write_in_folder(folder: Path, rel: str, data: bytes, mirrors: Sequence[str] = ()) -> Path:
    """Write ``folder/rel`` atomically without following a symbolic link inside the folder.

    A link already at ``rel`` is replaced by the file (its target is never written); a
    link among the parent directories is refused, since writing below it would land
    outside the folder, unless it is a link of a parallel worker's mirror (``mirrors``),
    which becomes a private folder first. The data goes to a temporary file first, so a
    full disk leaves the old file (or none) and never a truncated one."""
    target = folder / rel
    current = folder
    for part in PurePosixPath(rel).parts[:-1]:
        current = current / part
        if current.is_symlink() and _inside(current.resolve(), mirrors):
            _materialise(current)
        elif current.is_symlink():
            raise CatalogError(
                f"catalog: cannot write {rel!r}: {current} is a symbolic link and magnus "
                "does not write through links (remove it or change the catalog glob)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{os.getpid()}.{next(_counter)}.magnus.tmp"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, target)  # replaces a link itself, never its target
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


_counter = itertools.count()


def _join(run_id: str, namespace: Sequence[str], rel: str) -> str:
    return "/".join([run_id, *namespace, rel])


class DoNothingCatalog(Catalog):
    """Stores nothing; get finds nothing (for runs that move no files)."""

    name = "do-nothing"

    def put_bytes(self, run_id: str, namespace: Sequence[str], rel: str, data: bytes) -> str:
        return _join(run_id, namespace, rel)

    def get_bytes(self, run_id: str, namespace: Sequence[str], rel: str) -> bytes | None:
        return None

    def list_entries(self, run_id: str, namespace: Sequence[str]) -> list[str]:
        return []

    def copy_run(self, old_run_id: str, new_run_id: str) -> None:
        return None
