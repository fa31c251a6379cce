"""Files written whole: under a temporary name in the final folder, then
renamed over the final name, so that readers see the old file or the new one
and an interrupted run leaves no truncated file behind."""

from __future__ import annotations

import functools
import os


@functools.cache
def _usual_mode():
    """0666 less the process's umask: the mode ``open`` gives a new file."""
    umask = os.umask(0o022)  # the only way to read it before Python 3.13
    os.umask(umask)
    return 0o666 & ~umask


def publish(partial, path):
    """Rename the finished ``partial`` to ``path`` with a new file's usual
    mode (``tempfile.mkstemp`` makes its files private, 0600)."""
    os.chmod(partial, _usual_mode())
    os.replace(partial, path)
