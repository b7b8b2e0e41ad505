"""file-system catalog: entries under ``<catalog_location>/<run_id>/<namespace...>/<path>``.

Map iteration namespaces are directories whose names start with ``@`` so they can never
collide with a user's relative path (globs are matched against files only); a long one is
shortened with a hash (:func:`ns_segment`). Entry names are checked to stay below the
run's folder, and files are written through a temporary file and a rename, so a full disk
never leaves a truncated entry.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from magnus_render.stores.catalog_base import (
    NS_PREFIX,
    Catalog,
    CatalogSettings,
    _join,
    check_rel,
    ns_segment,
    write_in_folder,
)

__all__ = ["NS_PREFIX", "FileSystemCatalog"]


class FileSystemCatalogSettings(CatalogSettings):
    catalog_location: str = ".catalog"


class FileSystemCatalog(Catalog):
    name = "file-system"
    settings_model = FileSystemCatalogSettings

    def setup(self) -> None:
        super().setup()
        self.root = Path(self.settings.catalog_location)

    def location(self) -> str:
        return str(self.root)

    def holds(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root.resolve())

    def _dir(self, run_id: str, namespace: Sequence[str]) -> Path:
        return self.root.joinpath(run_id, *(ns_segment(ns) for ns in namespace))

    def put_bytes(self, run_id: str, namespace: Sequence[str], rel: str, data: bytes) -> str:
        write_in_folder(self._dir(run_id, namespace), check_rel(rel), data)
        return _join(run_id, [ns_segment(ns) for ns in namespace], rel)

    def get_bytes(self, run_id: str, namespace: Sequence[str], rel: str) -> bytes | None:
        try:
            return (self._dir(run_id, namespace) / check_rel(rel)).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def list_entries(self, run_id: str, namespace: Sequence[str]) -> list[str]:
        base = self._dir(run_id, namespace)
        if not base.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(NS_PREFIX))
            rel_dir = Path(dirpath).relative_to(base)
            for name in sorted(filenames):
                if not (name.startswith(".") and name.endswith(".tmp")):
                    found.append((rel_dir / name).as_posix())
        return found

    def copy_run(self, old_run_id: str, new_run_id: str) -> None:
        source = self.root / old_run_id
        if source.is_dir():
            import shutil  # only a re-run copies a catalog (it loads bz2, lzma)

            shutil.copytree(source, self.root / new_run_id, dirs_exist_ok=True)
