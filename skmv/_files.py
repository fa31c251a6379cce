"""Files written whole: under a temporary name in the final folder, then
renamed over the final name, so that readers see the old file or the new one
and an interrupted run leaves no truncated file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile


def _umask():
    """The process's umask, read where the system shows it (Linux), so that
    other threads never see it changed; else set and restored at once (the
    only way before Python 3.13)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def publish(partial, path):
    """Rename the finished ``partial`` to ``path`` with the mode a new file
    gets from ``open`` (``tempfile.mkstemp`` makes its files private, 0600)."""
    os.chmod(partial, 0o666 & ~_umask())
    os.replace(partial, path)


def write_atomic(path, write):
    """Write ``path`` through a temporary file in the same folder, renamed
    over it when complete: an interrupted run never leaves a truncated file
    under the final name, and readers see the old file or the new one.

    ``write(partial)`` writes the whole content to the path ``partial``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    os.close(fd)
    try:
        write(partial)
        publish(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
