"""Segments in, one feature row per segment out: the batch loop shared by the
featurizers.

A featurizer given a list of :class:`~skmv.io.Segment` groups the segments by
file, decodes each file once for all of its segments (segment by segment, so
that memory holds about one segment whatever the file's length), and turns
each decoded segment into a row with the featurizer's ``_featurize``. Files
are spread over ``n_jobs`` workers with joblib, so that
``joblib.parallel_config(backend="dask")`` spreads a corpus over a cluster;
each file is decoded in a child process, so that a decoder that crashes on a
corrupt file costs that file, not the run; ``memory`` caches the rows of each
finished file, so that an interrupted run started again recomputes only the
files it had not finished.

A segment whose ``modalities`` lack the featurizer's kind (a song for the
video featurizer) is not decoded: under ``missing="nan"`` its row is NaN, the
data model's missing modality, and under ``missing="error"`` its file is a
:class:`~skmv.exceptions.MissingStreamError`. A file that turns out to have
no such stream when decoded is treated the same way.
"""

from __future__ import annotations

import functools
import importlib
import os
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.utils.validation import check_memory

from ..exceptions import MediaError, MissingStreamError

__all__ = ["MediaSkipWarning", "SkippedFile", "featurize_segments"]


class MediaSkipWarning(UserWarning):
    """A file was skipped (``on_error="skip"``); the message names it and why."""


@dataclass(frozen=True)
class SkippedFile:
    """A file a batch skipped, and why."""

    path: str
    reason: str


def _group_by_file(segments):
    """{path: [(row, segment), ...]} in first-seen order, each in time order."""
    groups = {}
    for row, seg in enumerate(segments):
        groups.setdefault(seg.path, []).append((row, seg))
    for items in groups.values():
        items.sort(key=lambda item: item[1].start)
    return groups


def _file_rows(kind, featurizer, path, spans, threads=None):
    """Rows of one file's segments, decoded once, one segment at a time.

    Runs in a child process (see ``featurize_segments``); ``spans`` are the
    (start, duration) of the segments in time order.
    """
    import cv2
    from threadpoolctl import threadpool_limits

    from .. import io

    cv2.setNumThreads(1)
    segments = [io.Segment(path, start, duration, path) for start, duration in spans]
    rows = []
    with threadpool_limits(1):
        if kind == "video":
            stream = io.iter_video(
                path,
                segments,
                fps=featurizer.fps,
                size=tuple(featurizer.size),
                threads=threads,
            )
        else:
            stream = io.iter_audio(path, segments, sr=featurizer.sr)
        for _, content in stream:
            rows.append(featurizer._featurize(content))
    if len(rows) != len(spans):
        raise MediaError(
            path, f"decoded {len(rows)} of {len(spans)} segments; the file ends early"
        )
    return np.stack(rows).astype(np.float32, copy=False)


# A file's decoding and featurization in a worker that runs this many times
# slower than real time (plus a start-up allowance) has hung, a decoder stuck
# in a loop on a broken file: the call becomes that file's MediaError. A normal
# call runs 15 to 60 times faster than real time, on one core.
_TIMEOUT_PER_MEDIA_SECOND = 10.0
_TIMEOUT_ALLOWANCE = 120.0


def _decode_timeout(spans):
    """Seconds a worker may take for segments ``spans``, (start, duration)s."""
    return _TIMEOUT_ALLOWANCE + _TIMEOUT_PER_MEDIA_SECOND * sum(d for _, d in spans)


def _isolated(func, kind, featurizer, where, spans, threads, *, path):
    """``func(...)`` in a child process (see ``skmv.io.call_isolated``), with
    a time limit that grows with the media time decoded."""
    from .. import io

    return io.call_isolated(
        func, kind, featurizer, where, spans, threads, path=path,
        timeout=_decode_timeout(spans),
    )  # fmt: skip


def _file_rows_isolated(kind, featurizer, path, spans, stamp, threads):
    """``_file_rows`` in a child process; ``stamp`` (size, mtime, library
    versions) keys the cache so that a file changed on disk, or a release of
    a library that computes the features, is featurized again."""
    return _isolated(_file_rows, kind, featurizer, path, spans, threads, path=path)


# Parameters that do not change the features, set to fixed values in the
# cache key.
_NOT_IN_CACHE_KEY = {
    "n_jobs": None,
    "memory": None,
    "verbose": 0,
    "on_error": "raise",
    "missing": "error",
}


def featurize_segments(featurizer, segments, *, kind):
    """Feature rows of ``segments`` (a list of Segment), in their order.

    Parameters
    ----------
    featurizer : VideoFeaturizer or AudioFeaturizer
        Supplies ``_featurize``, the decoding parameters, ``n_jobs``,
        ``memory``, ``on_error``, ``missing`` and ``verbose``.
    segments : list of Segment
    kind : {"video", "audio"}

    Returns
    -------
    rows : ndarray of shape (n_segments, n_features), float32
        Rows of files skipped with ``on_error="skip"`` are NaN, and so are
        the rows of segments without ``kind`` under ``missing="nan"``.
    skipped : list of SkippedFile
    """
    segments = _check_segments(segments, featurizer)
    missing = featurizer.missing
    groups = {}
    for path, items in _group_by_file(segments).items():
        present = [(row, seg) for row, seg in items if kind in seg.modalities]
        if len(present) < len(items) and missing == "error":
            # Declared without this modality: fail before decoding anything.
            absent = next(seg for _, seg in items if kind not in seg.modalities)
            error = MissingStreamError(
                path,
                kind,
                f"its segments have no {kind} (modalities="
                f"{absent.modalities!r}); missing='nan' makes their rows NaN",
            )
            if featurizer.on_error == "raise":
                raise error
            groups[path] = (items, error.reason)
        elif present:
            groups[path] = (present, None)
    warm_up = getattr(featurizer, "_warm_up", None)
    if warm_up is not None and any(error is None for _, error in groups.values()):
        warm_up()
    memory = check_memory(featurizer.memory)
    compute = memory.cache(_file_rows_isolated, ignore=["threads"])
    # One decoder thread per file when files run in parallel (the workers
    # fill the cores: 12% faster on two); FFmpeg's own choice otherwise.
    threads = 1 if joblib.effective_n_jobs(featurizer.n_jobs) > 1 else None
    # The featurizer is part of the cache key through the parameters that
    # change its features only: a run resumed with another n_jobs, cache
    # object, verbosity or error policy finds what the first one computed.
    params_only = type(featurizer)(**{**featurizer.get_params(), **_NOT_IN_CACHE_KEY})
    jobs = []
    for path, (items, error) in groups.items():
        if error is not None:
            continue
        spans = tuple((float(seg.start), float(seg.duration)) for _, seg in items)
        # Workers outlive a call and keep the directory they started in: give
        # them absolute paths (which also key the cache the same from anywhere).
        where = os.path.abspath(path)
        jobs.append(
            joblib.delayed(_guarded)(
                compute,
                kind,
                params_only,
                where,
                spans,
                _stamp(where),
                threads,
                featurizer.on_error,
                missing,
            )
        )
    results = iter(
        joblib.Parallel(
            n_jobs=featurizer.n_jobs, verbose=featurizer.verbose, return_as="list"
        )(jobs)
    )

    rows = np.full((len(segments), featurizer._n_features_out), np.nan, np.float32)
    skipped = []
    for path, (items, error) in groups.items():
        block = None
        if error is None:
            block, error = next(results)
        if block is None and error is None:
            continue  # no such stream, under missing="nan": the rows stay NaN
        if error is not None:
            skipped.append(SkippedFile(path, error))
            warnings.warn(
                f"{type(featurizer).__name__} skipped {path}: {error}; its "
                f"{len(items)} segment row(s) are NaN.",
                MediaSkipWarning,
                stacklevel=3,
            )
            continue
        rows[[row for row, _ in items]] = block
    return rows, skipped


def _guarded(compute, kind, featurizer, path, spans, stamp, threads, on_error, missing):
    """(rows, None); (None, reason) for a MediaError under on_error="skip";
    (None, None) for a file without the stream under missing="nan"."""
    try:
        return compute(kind, featurizer, path, spans, stamp, threads), None
    except MissingStreamError as exc:
        # The file's own stream, not a declaration: a missing modality.
        if missing == "nan" and exc.kind == kind:
            return None, None
        if on_error == "raise":
            raise
        return None, exc.reason
    except MediaError as exc:
        if on_error == "raise":
            raise
        return None, exc.reason


def _check_segments(X, featurizer):
    """X as a list of Segment, or a TypeError naming the first item that is not."""
    from ..io import Segment

    if isinstance(X, (str, bytes)) or not hasattr(X, "__iter__"):
        raise TypeError(
            f"{type(featurizer).__name__} with input='segments' takes a list of "
            f"skmv.io.Segment (see skmv.io.segment_media); got {type(X).__name__}."
        )
    X = list(X)
    for i, item in enumerate(X):
        if not isinstance(item, Segment):
            raise TypeError(
                f"{type(featurizer).__name__} with input='segments' takes a list "
                f"of skmv.io.Segment; item {i} is a {type(item).__name__}. Pass "
                "input='content' for decoded arrays."
            )
    return X


# Libraries whose releases can change the feature values: (label, module).
VERSIONED = (
    ("skmv", "skmv"),
    ("numpy", "numpy"),
    ("librosa", "librosa"),
    ("av", "av"),
    ("opencv", "cv2"),
    ("scikit-learn", "sklearn"),
)


@functools.cache
def library_versions():
    """``((library, version), ...)`` of each library in ``VERSIONED``.

    Part of every cache key, so that an upgrade recomputes what an older
    release computed, and saved with the features by ``skmv featurize``.
    """
    versions = []
    for label, module in VERSIONED:
        try:
            version = importlib.import_module(module).__version__
        except ImportError:  # pragma: no cover - all are dependencies of skmv
            version = "not installed"
        versions.append((label, str(version)))
    return tuple(versions)


def _stamp(path):
    """What, besides the parameters, keys a file's cached rows."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, library_versions())
