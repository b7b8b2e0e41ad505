"""The compiled pipeline: the built IR cached by content, for the container commands.

Why: `magnus execute_single_node` runs once per step, and parsing plus validating the whole
pipeline YAML each time makes a run of n steps cost O(n^2) and imports the YAML front end
and its pydantic models into every container. The first call builds the pipeline as usual
and pickles it; later calls with the same bytes unpickle it.

Safety of the cache:

- the key hashes the pipeline file's bytes, the path as given, the working directory when
  that path is relative (an include is resolved from them), the Python version and a
  fingerprint of the front end's own source files (version, names, sizes, mtimes), so a
  changed magnus-render never trusts an old entry;
- an entry lists every included file, as written in its ``dag_definition``, with the hash
  of its bytes; a changed or missing include is a miss, and so is one that a retargeted
  symlink on its way (a ``current -> release-N`` layout) now makes another file. An entry
  is written only when the pipeline's ``dag_hash`` (the hash the builder took of every
  byte it read) matches the files as hashed here, so a file edited during the build is
  never cached with the wrong IR;
- pickles are loaded only from a folder, and an entry, owned by root or by this user and
  writable by neither group nor others (the usual rule for trusted files: an image's
  cache, baked by ``magnus compile`` as root, is read by pods running as any uid); an
  unreadable, foreign or corrupt entry is a miss, never an error. A folder this user
  cannot write is only read. Entries are written atomically (a temporary file of a random
  name, then rename), readable by all (the folder's mode guards a private cache). Nothing
  of the cache can make a run fail: when the folder cannot be written, the pipeline is
  built as before.

Each graph's nodes are pickled one by one and unpickled on first access
(:class:`LazyNodes`), so loading costs little more for the last step of a 5,000-step
pipeline than for a one-step one.

``MAGNUS_PIPELINE_CACHE=0`` turns the cache off; ``MAGNUS_PIPELINE_CACHE_DIR`` (else
``$XDG_CACHE_HOME/magnus-render/pipelines``, else ``~/.cache/...``) names the folder.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import hashlib
import io
import operator
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from magnus_render.files import NotRegularFile, read_regular
from magnus_render.pipeline import ir
from magnus_render.pipeline.loaded import Pipeline

#: bump when the entry layout changes
FORMAT = b"magnus-render compiled pipeline 3"
#: keep at most this many entries (the oldest are removed when a new one is written)
MAX_ENTRIES = 256


def cache_dir() -> Path:
    explicit = os.environ.get("MAGNUS_PIPELINE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "magnus-render" / "pipelines"


def enabled() -> bool:
    # any spelling of "off" a user may write (``False``, ``OFF``): one not understood
    # would leave the cache on without a word
    value = os.environ.get("MAGNUS_PIPELINE_CACHE", "1").strip().lower()
    return value not in ("0", "", "false", "no", "off")


def load_compiled(path: str | Path) -> Pipeline:
    """The pipeline at ``path``, from the cache when its bytes were compiled before; else
    built by :func:`magnus_render.pipeline.build.load_pipeline` (same errors) and cached."""
    if not enabled():
        return _build(path)
    try:
        text = _read_regular(path)
    except OSError:
        text = None  # the builder reports the missing or unreadable file with its name
    if text is None:
        return _build(path)
    try:
        folder = cache_dir()
        entry = folder / f"{_key(path, text)}.pickle"
    except (OSError, RuntimeError):  # no working directory, no home, unreadable package
        return _build(path)
    cached = _read(folder, entry)
    if cached is not None:
        return cached
    pipeline = _build(path)
    _write(folder, entry, text, pipeline)
    return pipeline


def compile_into_cache(path: str | Path) -> tuple[Pipeline, list[tuple[Path, bool]]]:
    """`magnus compile`: make sure the cache holds ``path`` compiled, e.g. in an image, as
    given and, when relative, also as an absolute path (whose key leaves out the working
    directory). Returns the pipeline and each entry with whether it was there already; a
    pipeline error raises as when loading, an entry that cannot be written a MagnusError."""
    from magnus_render.errors import MagnusError

    if not enabled():
        raise MagnusError("the compiled-pipeline cache is off (MAGNUS_PIPELINE_CACHE=0)")
    try:
        text = _read_regular(path)
    except OSError as exc:
        _build(path)  # the builder names the missing or unreadable file
        raise MagnusError(f"{path}: {exc.strerror}") from None
    if text is None:
        _build(path)  # its errors first, as for a file
        raise MagnusError(
            f"{path}: not a regular file (a pipe?): an entry is found by the bytes of the "
            "pipeline file that the containers read, so compile that file"
        )
    folder = cache_dir()
    spellings = [path] if os.path.isabs(path) else [path, os.path.abspath(path)]
    pipelines: list[Pipeline] = []
    entries: list[tuple[Path, bool]] = []
    for spelling in spellings:
        entry = folder / f"{_key(spelling, text)}.pickle"
        cached = _read(folder, entry)
        pipeline = cached or _build(spelling)
        pipelines.append(pipeline)
        entries.append((entry, cached is not None))
        if cached is not None:
            continue
        if os.path.lexists(folder) and not folder.is_dir():
            raise MagnusError(
                f"the pipeline cache {folder} (MAGNUS_PIPELINE_CACHE_DIR, else the default) "
                "is not a folder"
            )
        try:  # readable by the uid a container runs as, whatever the umask
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                os.chmod(folder, 0o755)
        except OSError as exc:
            raise MagnusError(
                f"cannot create the pipeline cache {folder}: {exc.strerror}"
            ) from None
        why = _write(folder, entry, text, pipeline)
        if why:
            raise MagnusError(f"cannot cache {spelling} in {folder}: {why}")
    return pipelines[0], entries


def _read_regular(path: str | Path) -> bytes | None:
    """The pipeline file's bytes; None when it is not a regular file. A pipe (``--file
    <(...)``, ``/dev/stdin``) can be read only once, and the builder must read it."""
    try:
        return read_regular(path)
    except NotRegularFile:
        return None


def _is_entry_name(name: str) -> bool:
    stem, dot, suffix = name.partition(".")
    return dot == "." and suffix == "pickle" and len(stem) == 64 and stem.strip(_HEX_DIGITS) == ""


_HEX_DIGITS = "0123456789abcdef"


def _build(path: str | Path) -> Pipeline:
    from magnus_render.pipeline.build import load_pipeline

    return load_pipeline(path)


def _key(path: str | Path, text: bytes) -> str:
    """The entry's name. The working directory counts only for a relative path: from an
    absolute one the builder reads nothing relative to it (includes resolve from the
    pipeline file's folder) and records only absolute names."""
    digest = hashlib.sha256(FORMAT)
    where = "" if os.path.isabs(path) else os.getcwd()
    for part in (_code_fingerprint(), sys.version, where, str(path)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(text)
    return digest.hexdigest()


def _code_fingerprint() -> str:
    """Version plus name, size and mtime of every source file of the front end."""
    from magnus_render.version import __version__

    here = Path(__file__).resolve().parent
    parts = [__version__]
    for folder in (here, here.parent):
        with os.scandir(folder) as entries:
            for item in sorted(entries, key=lambda e: e.name):
                if item.name.endswith(".py") and item.is_file():
                    st = item.stat()
                    parts.append(f"{item.path}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def _file_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


# -- reading ------------------------------------------------------------------------------
def _trusted(st: os.stat_result) -> bool:
    """Owned by root or this user and writable by neither group nor others (a pickle runs
    code when loaded; root can change anything anyway)."""
    return _distrust(st) is None


def _distrust(st: os.stat_result) -> str | None:
    """Why a folder or entry with this status is not trusted (None: it is)."""
    if st.st_uid not in (0, os.getuid()):
        return f"it is owned by uid {st.st_uid}, neither root nor this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "it is writable by group or others (chmod go-w)"
    return None


def _read(folder: Path, entry: Path) -> Pipeline | None:
    try:
        if not _trusted(os.stat(folder)):
            return None
        with open(entry, "rb") as fh:
            if not _trusted(os.fstat(fh.fileno())):
                return None
            data = fh.read()
        fmt, includes, pipeline = pickle.loads(data)
    except Exception:  # absent, unreadable or corrupt: build afresh
        return None
    if fmt != FORMAT or not isinstance(pipeline, Pipeline):
        return None
    for name, digest in includes:
        if _file_hash(name) != digest:
            return None
    return pipeline


# -- the pickled form -----------------------------------------------------------------
def _mapping_proxy(items: dict[str, Any]) -> Any:
    """Unpickles a read-only mapping of the IR (MappingProxyType cannot be pickled)."""
    return MappingProxyType(items) if items else ir._EMPTY


class LazyNodes(Mapping[str, ir.Node]):
    """A graph's nodes, each unpickled on first access: a container runs one node, so the
    last step of a 5,000-step pipeline need not rebuild the other 4,999 (read-only)."""

    __slots__ = ("_blobs", "_nodes")

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self._blobs = blobs
        self._nodes: dict[str, ir.Node] = {}

    def __getitem__(self, name: str) -> ir.Node:
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = pickle.loads(self._blobs[name])
        return node

    def __iter__(self) -> Iterator[str]:
        return iter(self._blobs)

    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, name: object) -> bool:
        return name in self._blobs

    def __reduce__(self) -> tuple[Any, ...]:
        return LazyNodes, (self._blobs,)

    def __repr__(self) -> str:
        return f"LazyNodes({list(self._blobs)!r})"


def _reduce_proxy(obj: MappingProxyType) -> tuple[Any, ...]:
    if obj and all(type(v) is ir.Node for v in obj.values()):  # a graph's nodes
        return LazyNodes, ({k: _dumps(v) for k, v in obj.items()},)
    return _mapping_proxy, (dict(obj),)


def _positional(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """Pickle an IR dataclass as its constructor's arguments: the generic ``__getstate__`` of
    frozen slotted dataclasses costs more than building the IR for large pipelines. Fields
    the constructor does not take (a graph's route cache) start afresh."""
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls) if f.init))
    return lambda obj: (cls, values(obj))


class _Pickler(pickle.Pickler):
    # a dispatch table, not reducer_override: only these types call back into Python
    dispatch_table = {
        **copyreg.dispatch_table,
        MappingProxyType: _reduce_proxy,
        **{cls: _positional(cls) for cls in (ir.Node, ir.Graph, ir.Source, ir.TaskSpec)},
        ir.CatalogSpec: _positional(ir.CatalogSpec),
    }


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


# -- writing ------------------------------------------------------------------------------
def _write(folder: Path, entry: Path, text: bytes, pipeline: Pipeline) -> str | None:
    """Cache ``pipeline`` if it was built from exactly ``text`` and today's includes.
    Returns why it was not written (None when it was); a miss then, never an error."""
    # files[0] is the pipeline file itself (hashed into the key), the rest its includes:
    # checked as written, so a retargeted symlink on the way to one is seen, while a
    # different route to the same bytes (a ConfigMap's ..data links) is still a hit
    includes = [(spelled, _file_hash(name)) for spelled, name in pipeline.links]
    digest = hashlib.sha256(text)
    for name in pipeline.files[1:]:
        try:
            digest.update(Path(name).read_bytes())
        except OSError:
            return f"included file {name} cannot be read"
    if digest.hexdigest() != pipeline.dag_hash:
        return "a file changed while it was built"
    try:
        payload = _dumps((FORMAT, includes, pipeline))
    except Exception as exc:  # something in the IR that cannot be pickled: run uncached
        return f"it cannot be pickled ({exc})"
    # a random name: two writers with the same pid (pods on one shared volume) never meet;
    # secrets imported here: a container that reads the cache back never writes one
    import secrets

    tmp = entry.with_name(f".{entry.name}.{secrets.token_hex(8)}.tmp")
    created = False
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        why = _distrust(os.stat(folder))
        if why:
            return f"the folder would not be trusted: {why}"
        if not os.access(folder, os.W_OK):
            return "the folder is not writable by this user"  # read-only: only read
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        created = True
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)  # whatever the umask: the folder guards access
            fh.write(payload)
        os.replace(tmp, entry)
    except BaseException as exc:  # Ctrl-C or SIGTERM mid-write too: no stray .tmp file
        if created:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if not isinstance(exc, OSError):
            raise
        return exc.strerror or str(exc)
    with contextlib.suppress(OSError):
        _prune(folder)
    return None


def _prune(folder: Path) -> None:
    """Remove the oldest entries beyond MAX_ENTRIES: only files named as entries are (a
    sha256 in hex), since the folder may be one the user keeps other pickles in."""
    entries = []
    with os.scandir(folder) as items:
        for item in items:
            if _is_entry_name(item.name):
                try:
                    entries.append((item.stat().st_mtime_ns, item.path))
                except OSError:
                    continue
    for _, name in sorted(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
        with contextlib.suppress(OSError):
            os.unlink(name)
