"""Where skmv keeps what it generates and caches between runs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["get_data_home"]


def get_data_home(data_home=None):
    """The folder for skmv's generated corpora and feature caches.

    By order of precedence: ``data_home`` if given, the ``SKMV_DATA``
    environment variable, or ``~/skmv_data``. The folder is created if it
    does not exist; ``~`` is expanded.

    Parameters
    ----------
    data_home : str, os.PathLike or None, default=None
        The folder to use instead of the default.

    Returns
    -------
    data_home : pathlib.Path
        The folder, absolute.

    Examples
    --------
    >>> import tempfile
    >>> from skmv.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     get_data_home(tmp).is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get("SKMV_DATA", Path("~") / "skmv_data")
    path = Path(data_home).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
