"""Reading a file that must be a regular file: a pipeline (the compiled cache's key), a
stored run log, a file of a GitOps tree. Opening a FIFO for reading waits for a writer
and a link to ``/dev/zero`` never ends, so anything but a regular file is refused, never
read; the open itself does not wait (``O_NONBLOCK``)."""

from __future__ import annotations

import errno
import os
import stat


class NotRegularFile(OSError):
    """Something other than a regular file is there (a folder, a FIFO, a device)."""


def read_regular(path: str | os.PathLike[str], limit: int = -1, offset: int = 0) -> bytes:
    """The bytes of the regular file ``path`` (from ``offset``, at most ``limit``). Raises
    what ``os.open`` raises (FileNotFoundError, PermissionError, ...) and
    :class:`NotRegularFile` for anything else than a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        if offset:
            handle.seek(offset)
        return handle.read(limit)
