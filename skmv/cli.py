"""The ``skmv`` command: from media files to features, models, retrieval and
classification.

Subcommands:

``skmv featurize PATHS... -o features.npz``
    Cut media files (and the media files under folders) into segments and
    compute their video and audio features: one row per segment. Music
    videos, songs (audio only: mp3, ogg, opus, flac, wav, m4a, ...) and
    silent footage may be mixed: a modality a file lacks is NaN in its rows,
    and the file records which modalities each row has.
``skmv featurize PATHS... --store DIR``
    The same rows, written into a features store (:mod:`skmv.store`) as
    files finish: an interrupted run started again skips the files already
    in DIR, and a later run with more files appends theirs.
``skmv fit features.npz -o model.skops [--labels labels.csv]``
    Learn a shared representation of the two modalities (per-modality deep
    belief networks and a shared RBM) and, with labels, a multi-timescale
    fusion classifier of 60-second windows. Training needs pairs: every row
    must have both video and audio. ``skmv fit DIR`` trains from a features
    store, streaming ``--chunk-size`` rows at a time: the features need not
    fit in memory.
``skmv retrieve model.skops QUERY --database features.npz``
    Query with the music (or the video) of a file's segments and list the
    nearest segments of the other modality in a database: music for a
    video from a music library featurized alone, or footage for a song.
    Database rows without the retrieved modality are left out.
    ``--database DIR`` searches a features store, embedded a chunk at a
    time rather than read whole. ``--by clip``
    answers "which of my tracks fits this video?": the query's segments (or
    an ``--excerpt``) slide over every database clip, and the best clips are
    listed with the time range they match. ``--report report.html`` also
    writes the results as one self-contained page of key frames and audio
    players (:mod:`skmv.report`).
``skmv classify model.skops FILES...``
    Label whole clips with the fitted classifier.
``skmv demo``
    The job behind ``make demo`` (:mod:`skmv.demo`).

Exit codes: 0 success; 2 a usage error (a missing file, a file of the wrong
kind or of another skmv version, a model for other features, labels for
unknown clips, a model without a classifier, training rows without both
modalities, a database without the retrieved one), reported as one line
starting ``skmv: error:``; 3 the command finished but skipped some media files
(listed on stderr with their reasons); 130 interrupted (``featurize --cache
DIR`` and ``featurize --store DIR`` resume where they stopped).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import textwrap
import warnings

import numpy as np

from ._files import write_atomic

__all__ = ["main"]

# Exit codes (documented in the module docstring and the user guide).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130

FEATURES_FORMAT = "skmv-features"
MODEL_FORMAT = "skmv-model"
FORMAT_VERSION = 1
# Segments per classified window: the paper's 60 s of 6 s segments.
N_SEGMENTS = 10


class UsageError(Exception):
    """A mistake of the user's: reported as one ``skmv: error:`` line, exit 2."""


def _fail(message):
    raise UsageError(message)


# ----------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------


def _err(message=""):
    print(message, file=sys.stderr, flush=True)


def _require_file(path, what):
    if not os.path.exists(path):
        _fail(f"{path}: no such {what}")
    if os.path.isdir(path):
        _fail(f"{path}: is a directory, not a {what}")


def _require_output_dir(path):
    """Refuse an output whose folder is missing before any work is done."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        _fail(f"{path}: cannot write there, no such directory {directory}")
    if os.path.isdir(path):
        _fail(f"{path}: is a directory; give a file name")


def _names_hash(names):
    return hashlib.sha256("\n".join(map(str, names)).encode()).hexdigest()


def _skmv_version():
    from . import __version__

    return __version__


def _featurizers(n_jobs=1, cache=None):
    from .features import AudioFeaturizer, VideoFeaturizer

    # Absolute: the cache is keyed by the featurizer's parameters, so that
    # ./cache and /abs/cache must read the same entries.
    memory = None if cache is None else os.path.abspath(cache)
    # A modality a file lacks (a song's video) is NaN, not a skipped file.
    common = dict(n_jobs=n_jobs, memory=memory, on_error="skip", missing="nan")
    return VideoFeaturizer(**common), AudioFeaturizer(**common)


def _feature_names():
    video, audio = _featurizers()
    return (
        [str(name) for name in video.get_feature_names_out()],
        [str(name) for name in audio.get_feature_names_out()],
    )


def _fingerprint(n_video, n_audio, names, seconds, version):
    return {
        "n_video": int(n_video),
        "n_audio": int(n_audio),
        "feature_names_sha256": _names_hash(names),
        "seconds": float(seconds),
        "skmv": str(version),
    }


def _describe_mismatch(model_fp, data_fp):
    """The first difference of two fingerprints, in words (None if equal)."""
    labels = {
        "skmv": "skmv version",
        "n_video": "video columns",
        "n_audio": "audio columns",
        "seconds": "segment seconds",
        "feature_names_sha256": "feature names",
    }
    for key, label in labels.items():
        if model_fp.get(key) != data_fp.get(key):
            if key == "feature_names_sha256":
                return "the feature names differ"
            return f"{label} {model_fp.get(key)} in the model, {data_fp.get(key)} here"
    return None


def _format_time(seconds):
    return f"{float(seconds):.6g}"


# ----------------------------------------------------------------------------
# Featurizing
# ----------------------------------------------------------------------------


def _by_file(segments):
    """{path: [segment, ...]} in first-seen order."""
    files = {}
    for segment in segments:
        files.setdefault(segment.path, []).append(segment)
    return files


def _featurize_segments(segments, *, n_jobs=1, cache=None, progress=True):
    """Feature rows ``[video | audio]`` of ``segments``, dropping bad files.

    The columns of a modality a segment lacks (see ``Segment.modalities``)
    are NaN, not decoded: a missing modality, which the shared model's
    inference accepts.

    Returns
    -------
    X : ndarray of shape (n_kept, n_video + n_audio), float32
    kept : list of Segment
    skipped : list of (str, str)
        ``(path, reason)`` of the files whose segments were dropped.
    """
    blocks, kept, skipped = [], [], []
    for X, good, bad in _iter_featurized(
        segments, n_jobs=n_jobs, cache=cache, progress=progress
    ):
        blocks.append(X)
        kept.extend(good)
        skipped.extend(bad)
    if blocks:
        X = np.concatenate(blocks).astype(np.float32, copy=False)
    else:
        X = np.empty((0, sum(_feature_widths())), np.float32)
    return X, kept, skipped


def _feature_widths():
    return tuple(f._n_features_out for f in _featurizers())


def _iter_featurized(segments, *, n_jobs=1, cache=None, progress=True):
    """``(X, kept, skipped)`` of each batch of files of ``segments``, as it
    finishes (see :func:`_featurize_segments`).

    Files go to the featurizers a batch of ``n_jobs`` at a time, so that the
    progress bar moves as files finish while the workers stay busy; the
    cache is per file, so batching does not change what a rerun reuses. A
    file's segments are all in one batch.
    """
    import joblib
    from tqdm import tqdm

    from .features._batch import MediaSkipWarning

    featurizers = dict(zip(("video", "audio"), _featurizers(n_jobs, cache)))
    widths = {kind: f._n_features_out for kind, f in featurizers.items()}
    files = list(_by_file(segments).items())
    batch = max(1, joblib.effective_n_jobs(n_jobs))
    with tqdm(
        total=len(segments),
        unit="segment",
        desc="featurizing",
        file=sys.stderr,
        disable=not progress or not segments,
        dynamic_ncols=True,
    ) as bar:
        for first in range(0, len(files), batch):
            chunk = [seg for _, segs in files[first : first + batch] for seg in segs]
            bad, parts = {}, []
            for kind, featurizer in featurizers.items():
                # A file that failed one modality is not decoded for the other.
                todo = [seg for seg in chunk if seg.path not in bad]
                rows = np.empty((0, widths[kind]), np.float32)
                if todo:
                    with warnings.catch_warnings():
                        # Reported together at the end, with their reasons.
                        warnings.simplefilter("ignore", MediaSkipWarning)
                        rows = featurizer.transform(todo)
                    for item in featurizer.skipped_:
                        bad.setdefault(item.path, item.reason)
                parts.append((todo, rows))
            good = [seg for seg in chunk if seg.path not in bad]
            X = np.hstack(
                [rows[[seg.path not in bad for seg in todo]] for todo, rows in parts]
            )
            bar.update(len(chunk))
            yield X.astype(np.float32, copy=False), good, list(bad.items())


def _segment(paths, seconds, streams=None, keep_last=False):
    """segment_media with bad files skipped (and listed, not warned); each
    file's segments have the streams it has, unless ``streams`` names them."""
    from .io import MediaWarning, segment_media

    for path in paths:
        if not os.path.exists(path):
            _fail(f"{path}: no such file or directory")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MediaWarning)
        segments = segment_media(
            paths,
            seconds=seconds,
            streams=streams,
            keep_last=keep_last,
            on_error="skip",
        )
    return segments


# The modalities of a row, as features files record them.
_BOTH, _AUDIO_ONLY, _VIDEO_ONLY = "video,audio", "audio", "video"
_COMBINATIONS = (
    (_BOTH, "with video and audio"),
    (_AUDIO_ONLY, "audio only"),
    (_VIDEO_ONLY, "video only"),
)


def _row_modalities(X, n_video):
    """Which modalities each row has, ``"video,audio"``, ``"audio"`` or
    ``"video"`` (``""``: neither): a block of NaN is a missing modality."""
    has_video = ~np.isnan(X[:, :n_video]).all(axis=1)
    has_audio = ~np.isnan(X[:, n_video:]).all(axis=1)
    return np.where(
        has_video,
        np.where(has_audio, _BOTH, _VIDEO_ONLY),
        np.where(has_audio, _AUDIO_ONLY, ""),
    ).astype(str)


def _count_combinations(modalities):
    """``"3 with video and audio, 8 audio only"``: the combinations of
    ``modalities`` (one per row or clip) that occur, with their counts."""
    values = list(modalities)
    return ", ".join(
        f"{values.count(key)} {label}"
        for key, label in _COMBINATIONS
        if values.count(key)
    )


def _report_skipped(skipped, n_files):
    if not skipped:
        return
    _err(f"skmv: skipped {len(skipped)} of {n_files} file(s):")
    for path, reason in skipped:
        _err(f"  {path}: {reason}")
    if any(_with_hint(reason) != reason for _, reason in skipped):
        _err(f"  ({_KEEP_LAST_HINT})")


_KEEP_LAST_HINT = "--keep-last keeps a file's last, shorter piece as a segment"


def _with_hint(reason):
    """A skip reason, with what to do about a file shorter than a segment."""
    if "shorter than one segment" in reason:
        return f"{reason}; {_KEEP_LAST_HINT}"
    return reason


def _cmd_featurize(args):
    if args.store is None:
        _require_output_dir(args.output)
    if args.seconds <= 0:
        _fail(f"--seconds must be positive, got {args.seconds}")
    if args.cache is not None and os.path.exists(args.cache):
        if not os.path.isdir(args.cache):
            _fail(f"{args.cache}: --cache must be a directory")
    if args.store is not None:
        return _featurize_into_store(args)
    segments = _segment(args.paths, args.seconds, keep_last=args.keep_last)
    n_files = len(_by_file(segments)) + len(segments.skipped)
    X, kept, bad = _featurize_segments(
        segments, n_jobs=args.n_jobs, cache=args.cache, progress=not args.quiet
    )
    skipped = list(segments.skipped) + bad
    if not kept:
        if len(skipped) == 1:  # one file or folder: its reason is the error
            _fail(f"{skipped[0][0]}: {_with_hint(skipped[0][1])}")
        _report_skipped(skipped, n_files)
        _fail("no segments to write: every media file was skipped")

    video_names, audio_names = _feature_names()
    from .features._batch import library_versions

    versions = library_versions()
    data = {
        "format": np.array(FEATURES_FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "X": X,
        "n_video": np.array(len(video_names)),
        "n_audio": np.array(len(audio_names)),
        "seconds": np.array(float(args.seconds)),
        "clips": np.array([seg.clip for seg in kept], dtype=str),
        "paths": np.array([seg.path for seg in kept], dtype=str),
        "start": np.array([seg.start for seg in kept], dtype=np.float64),
        "duration": np.array([seg.duration for seg in kept], dtype=np.float64),
        "feature_names": np.array(video_names + audio_names, dtype=str),
        "versions": np.array(versions, dtype=str),
        "skipped": np.array(skipped, dtype=str).reshape(-1, 2),
        "modalities": _row_modalities(X, len(video_names)),
    }

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: savez adds no suffix
            np.savez(f, **data)

    write_atomic(args.output, write)
    # A clip's modalities are its file's: the same in all of its rows.
    clip_modalities = {}
    for clip, modalities in zip(data["clips"].tolist(), data["modalities"].tolist()):
        clip_modalities.setdefault(clip, modalities)
    print(
        f"wrote {args.output}: {X.shape[0]} segments of {len(clip_modalities)} "
        f"clip(s): {_count_combinations(clip_modalities.values())}; "
        f"{len(video_names)} video + {len(audio_names)} audio features"
    )
    _report_skipped(skipped, n_files)
    return EXIT_SKIPPED if skipped else EXIT_OK


# The per-row fields of a features store: those of a features file.
_STORE_FIELDS = ("clips", "paths", "start", "duration", "modalities")
# Rows a chunk of a features store holds when fit streams from it.
DEFAULT_CHUNK_SIZE = 10_000


def _store_state(path):
    """The features store at ``path`` checked, or None where there is none
    yet (no such directory, or an empty one): checked before any work."""
    from .store import FeatureStore

    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            _fail(f"{path}: cannot write there, no such directory {parent}")
        return None
    if os.path.isdir(path) and not os.listdir(path):
        return None
    if not os.path.isdir(path):
        _fail(f"{path}: --store must be a directory (a features store)")
    try:
        store = FeatureStore(path)
    except ValueError as exc:
        raise UsageError(
            f"{path}: not a skmv features store and not an empty directory ({exc})"
        ) from exc
    _check_store(store)
    return store


def _check_store(store):
    """Refuse a store that is not of features, or of another skmv version."""
    path, attrs = store.path, store.attrs
    if (
        attrs.get("format") != FEATURES_FORMAT
        or set(store.row_fields) != set(_STORE_FIELDS)
        or int(attrs.get("n_video", -1)) + int(attrs.get("n_audio", -1))
        != len(store.feature_names)
    ):
        _fail(f"{path}: not a skmv features store (write one with skmv featurize)")
    if attrs.get("format_version") != FORMAT_VERSION:
        _fail(
            f"{path}: features store format {attrs.get('format_version')}, this "
            f"skmv reads format {FORMAT_VERSION}; featurize into a new store"
        )
    versions = {str(k): str(v) for k, v in attrs.get("versions", [])}
    current = _skmv_version()
    if versions.get("skmv") != current:
        _fail(
            f"{path}: computed by skmv {versions.get('skmv')}, this is skmv "
            f"{current}; feature values may differ: featurize into a new store"
        )
    return versions


def _featurize_into_store(args):
    """featurize --store: each batch of files appended as it finishes; the
    files already in the store are not computed again."""
    from .features._batch import library_versions
    from .store import FeatureStore

    store = _store_state(args.store)
    video_names, audio_names = _feature_names()
    names = video_names + audio_names
    if store is not None:
        seconds = float(store.attrs["seconds"])
        if seconds != float(args.seconds):
            _fail(
                f"{args.store}: holds segments of {seconds:g} s, not "
                f"{args.seconds:g} s; featurize with --seconds {seconds:g} or "
                "into a new store"
            )
        if store.feature_names != names:
            _fail(f"{args.store}: its feature names are not this skmv's")
    segments = _segment(args.paths, args.seconds, keep_last=args.keep_last)
    files = _by_file(segments)
    n_files = len(files) + len(segments.skipped)
    done = store.sources if store is not None else frozenset()
    there = [path for path in files if os.path.abspath(path) in done]
    todo = [seg for seg in segments if os.path.abspath(seg.path) not in done]
    added, added_clips, bad = 0, set(), []
    for X, kept, skipped in _iter_featurized(
        todo, n_jobs=args.n_jobs, cache=args.cache, progress=not args.quiet
    ):
        bad.extend(skipped)
        if not kept:
            continue
        if store is None:
            store = FeatureStore.create(
                args.store,
                feature_names=names,
                row_fields=_STORE_FIELDS,
                attrs={
                    "format": FEATURES_FORMAT,
                    "format_version": FORMAT_VERSION,
                    "n_video": len(video_names),
                    "n_audio": len(audio_names),
                    "seconds": float(args.seconds),
                    "versions": [list(pair) for pair in library_versions()],
                },
            )
        store.append(
            X,
            sources=sorted({os.path.abspath(seg.path) for seg in kept}),
            clips=np.array([seg.clip for seg in kept], dtype=str),
            paths=np.array([seg.path for seg in kept], dtype=str),
            start=np.array([seg.start for seg in kept], dtype=np.float64),
            duration=np.array([seg.duration for seg in kept], dtype=np.float64),
            modalities=_row_modalities(X, len(video_names)),
        )
        added += X.shape[0]
        added_clips.update(seg.clip for seg in kept)
    skipped = list(segments.skipped) + bad
    if store is None or store.n_rows == 0:
        if len(skipped) == 1:
            _fail(f"{skipped[0][0]}: {_with_hint(skipped[0][1])}")
        _report_skipped(skipped, n_files)
        _fail("no segments to write: every media file was skipped")
    clip_modalities = {}
    for clip, modalities in zip(
        store.rows("clips").tolist(), store.rows("modalities").tolist()
    ):
        clip_modalities.setdefault(clip, modalities)
    print(
        f"{args.store}: added {added} segments of {len(added_clips)} clip(s)"
        + (f" ({len(there)} file(s) already there)" if there else "")
        + f"; it holds {store.n_rows} segments of {len(clip_modalities)} clip(s): "
        f"{_count_combinations(clip_modalities.values())}; "
        f"{len(video_names)} video + {len(audio_names)} audio features"
    )
    _report_skipped(skipped, n_files)
    return EXIT_SKIPPED if skipped else EXIT_OK


# ----------------------------------------------------------------------------
# Features files
# ----------------------------------------------------------------------------

_FEATURE_KEYS = (
    "format",
    "format_version",
    "X",
    "n_video",
    "n_audio",
    "seconds",
    "clips",
    "paths",
    "start",
    "duration",
    "feature_names",
    "versions",
)


def _load_store(path):
    """A features store as :func:`_load_features` gives a file: its rows
    (``X``, read on demand) and their fields."""
    from sklearn.utils import Bunch

    from .store import FeatureStore

    try:
        store = FeatureStore(path)
    except ValueError as exc:
        raise UsageError(
            f"{path}: a directory that is not a skmv features store (write one "
            "with skmv featurize --store)"
        ) from exc
    versions = _check_store(store)
    rows = {name: store.rows(name) for name in _STORE_FIELDS}
    if store.n_rows == 0:
        rows = {name: np.empty(0, dtype=str) for name in _STORE_FIELDS}
    n_video, n_audio = int(store.attrs["n_video"]), int(store.attrs["n_audio"])
    seconds = float(store.attrs["seconds"])
    return Bunch(
        path=path,
        X=store.X,
        n_video=n_video,
        n_audio=n_audio,
        seconds=seconds,
        feature_names=store.feature_names,
        versions=versions,
        fingerprint=_fingerprint(
            n_video, n_audio, store.feature_names, seconds, versions["skmv"]
        ),
        store=True,
        **rows,
    )


def _load_features(path, *, store=False):
    """The arrays of a features file, checked to be ours and current; with
    ``store``, a features store (a directory) too, its rows read on demand."""
    from sklearn.utils import Bunch

    if store and os.path.isdir(path):
        return _load_store(path)
    _require_file(path, "features file")
    not_ours = f"{path}: not a skmv features file (write one with skmv featurize)"
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not all(key in npz.files for key in _FEATURE_KEYS):
                _fail(not_ours)
            data = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        # np.load raises these on a file that is no .npz (or a damaged one).
        raise UsageError(not_ours) from exc
    if str(data["format"]) != FEATURES_FORMAT or data["versions"].shape[1:] != (2,):
        _fail(not_ours)
    if int(data["format_version"]) != FORMAT_VERSION:
        _fail(
            f"{path}: features file format {int(data['format_version'])}, this "
            f"skmv reads format {FORMAT_VERSION}; run skmv featurize again"
        )
    versions = {str(k): str(v) for k, v in data["versions"].tolist()}
    current = _skmv_version()
    if versions.get("skmv") != current:
        _fail(
            f"{path}: computed by skmv {versions.get('skmv')}, this is skmv "
            f"{current}; feature values may differ: run skmv featurize again"
        )
    X = data["X"]
    n_video, n_audio = int(data["n_video"]), int(data["n_audio"])
    n = X.shape[0]
    if (
        X.ndim != 2
        or X.shape[1] != n_video + n_audio
        or any(data[key].shape[0] != n for key in ("clips", "paths", "start"))
    ):
        _fail(f"{path}: damaged features file (its arrays do not agree)")
    # Which modalities each row has; files written before they said so
    # tell it by their blocks of NaN.
    modalities = data.get("modalities")
    if modalities is None:
        modalities = _row_modalities(X, n_video)
    if modalities.shape != (n,) or not set(modalities.tolist()) <= {
        key for key, _ in _COMBINATIONS
    }:
        _fail(f"{path}: damaged features file (its arrays do not agree)")
    names = data["feature_names"].tolist()
    return Bunch(
        path=path,
        X=X,
        n_video=n_video,
        n_audio=n_audio,
        seconds=float(data["seconds"]),
        clips=data["clips"],
        paths=data["paths"],
        start=data["start"],
        duration=data["duration"],
        feature_names=names,
        modalities=modalities,
        versions=versions,
        fingerprint=_fingerprint(
            n_video, n_audio, names, float(data["seconds"]), versions["skmv"]
        ),
        store=False,
    )


# ----------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a number of workers, 1 or more (-1: one per core), got {text!r}"
        )
    return value


def _parse_layers(text):
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive ints separated by commas (e.g. 256,128), got {text!r}"
        )
    return sizes


def _encoder(args):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .dbn import DBNTransformer

    # Standardised inside the encoder, so that reconstructions come back in
    # the units of the features file.
    return make_pipeline(
        StandardScaler(),
        DBNTransformer(
            hidden_layer_sizes=args.hidden_layers,
            n_iter=args.n_iter,
            batch_size=args.batch_size,
            verbose=int(args.verbose),
        ),
    )


def _modalities(args, n_video, n_audio):
    return [
        ("video", _encoder(args), slice(0, n_video)),
        ("audio", _encoder(args), slice(n_video, n_video + n_audio)),
    ]


def _shared_rbm(args, modalities):
    from .shared import SharedRBM

    return SharedRBM(
        modalities,
        n_components=args.n_components,
        n_iter=args.n_iter,
        batch_size=args.batch_size,
        random_state=args.random_state,
        verbose=int(args.verbose),
    )


def _read_labels(path):
    """``{clip: label}`` from a CSV of ``clip,label`` rows (a header allowed);
    labels are ints when they all are, else strings."""
    _require_file(path, "labels file")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for lineno, row in enumerate(csv.reader(f), start=1):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != 2:
                    _fail(
                        f"{path}, line {lineno}: expected 'clip,label', got "
                        f"{len(row)} field(s)"
                    )
                clip, label = row[0].strip(), row[1].strip()
                if not rows and label.lower() == "label":
                    continue  # the header
                rows.append((clip, label, lineno))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a text CSV file ({exc.reason})") from exc
    if not rows:
        _fail(f"{path}: no 'clip,label' rows")
    labels = {}
    for clip, label, lineno in rows:
        if clip in labels and labels[clip] != label:
            _fail(f"{path}, line {lineno}: clip {clip} has two labels")
        labels[clip] = label
    try:
        return {clip: int(label) for clip, label in labels.items()}
    except ValueError:
        return labels


def _match_clips(labels, clips, labels_path, features_path):
    """Map the labels' clip ids onto the features file's clips.

    An id matches a clip written the same way, the same file by absolute
    path, or, when no other clip shares it, the same file name.
    """
    unique = list(dict.fromkeys(clips.tolist()))
    by_abs, by_name = {}, {}
    for clip in unique:
        by_abs.setdefault(os.path.abspath(clip), []).append(clip)
        by_name.setdefault(os.path.basename(clip), []).append(clip)
    matched, unknown, ambiguous = {}, [], []
    for key, label in labels.items():
        if key in unique:
            found = [key]
        else:
            found = by_abs.get(os.path.abspath(key)) or by_name.get(
                os.path.basename(key), []
            )
        if len(found) == 1:
            matched[found[0]] = label
        elif found:
            ambiguous.append((key, found))
        else:
            unknown.append(key)
    if ambiguous:
        key, found = ambiguous[0]
        _fail(
            f"{labels_path}: {len(ambiguous)} clip name(s) match several clips "
            f"of {features_path}: {key} is {' and '.join(found[:2])}"
            f"{' ...' if len(found) > 2 else ''}; write the clip ids as in the "
            "features file (their paths)"
        )
    if unknown:
        shown = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        _fail(f"{labels_path}: {len(unknown)} clip(s) not in {features_path}: {shown}")
    return matched


def _classifier_windows(args, data, labels):
    """The labelled clips' windows, their labels and clips, and the folds;
    checked before any training, so that bad labels cost no time."""
    from .timescale import make_windows

    matched = _match_clips(labels, data.clips, args.labels, data.path)
    clips = data.clips
    unlabelled = sorted(set(clips.tolist()) - set(matched))
    rows = np.flatnonzero(np.isin(clips, list(matched)))
    X_windows, window_clips = make_windows(
        data.X[rows], clips[rows], n_segments=N_SEGMENTS
    )
    short = sorted(set(matched) - set(window_clips.tolist()))
    y = np.array([matched[clip] for clip in window_clips.tolist()])
    clip_labels = {clip: matched[clip] for clip in set(window_clips.tolist())}
    values, counts = np.unique(list(clip_labels.values()), return_counts=True)
    if values.size < 2 or counts.min() < 2:
        got = ", ".join(f"{c} of label {v}" for v, c in zip(values, counts))
        _fail(
            f"{args.labels}: the classifier needs at least 2 clips of each of 2 "
            f"labels long enough to fill a {N_SEGMENTS}-segment window "
            f"({N_SEGMENTS * data.seconds:g} s); got {got or 'none'}"
        )
    if unlabelled:
        _err(
            f"skmv: warning: {len(unlabelled)} clip(s) without a label left out "
            "of the classifier's training"
        )
    if short:
        _err(
            f"skmv: warning: {len(short)} clip(s) shorter than {N_SEGMENTS} "
            f"segments ({N_SEGMENTS * data.seconds:g} s) left out of the "
            f"classifier's training: {', '.join(short[:3])}"
            + (" ..." if len(short) > 3 else "")
        )
    if args.verbose:
        print(
            f"classifier: {len(y)} windows of {len(clip_labels)} clips, "
            + ", ".join(f"{c} clips of label {v}" for v, c in zip(values, counts))
        )
    # Folds of whole clips, stratified: no more folds than the rarer label
    # has clips.
    return X_windows, y, window_clips, int(min(5, counts.min()))


def _fit_classifier(args, data, windows):
    """The multi-timescale fusion classifier of the windows, fitted."""
    from .shared import SharedRBM
    from .timescale import MultiTimescaleFusionClassifier

    X_windows, y, window_clips, cv = windows
    classifier = MultiTimescaleFusionClassifier(
        _modalities(args, data.n_video, data.n_audio),
        scales=(1, 2, 5, 10),
        n_segments=N_SEGMENTS,
        shared=SharedRBM(
            [],
            n_components=args.n_components,
            n_iter=args.n_iter,
            batch_size=args.batch_size,
        ),
        cv=cv,
        random_state=args.random_state,
        verbose=int(args.verbose),
    )
    return classifier.fit(X_windows, y, groups=window_clips)


def _require_pairs(data):
    """Refuse rows without both modalities: the shared model learns what
    goes with what from pairs."""
    lacking = data.modalities != _BOTH
    if not lacking.any():
        return
    no_video = int(np.count_nonzero(data.modalities == _AUDIO_ONLY))
    no_audio = int(np.count_nonzero(data.modalities == _VIDEO_ONLY))
    first = data.clips[np.flatnonzero(lacking)[0]]
    _fail(
        f"{data.path}: training needs pairs of video and audio, but "
        f"{int(lacking.sum())} of {len(lacking)} rows lack one: {no_video} have "
        f"no video (audio only), {no_audio} have no audio (video only), e.g. "
        f"{first}; fit on music videos (retrieve searches databases of one "
        "modality)"
    )


def _cmd_fit(args):
    from . import save_model

    data = _load_features(args.features, store=True)
    _require_output_dir(args.output)
    _require_pairs(data)
    if data.X.shape[0] < 2:
        _fail(f"{args.features}: {data.X.shape[0]} segment(s); fit needs at least 2")
    windows = None
    if args.labels is not None:
        windows = _classifier_windows(args, data, _read_labels(args.labels))
    if args.verbose:
        print(
            f"shared model: {data.X.shape[0]} segments, {data.n_video} video + "
            f"{data.n_audio} audio features"
        )
    shared = _shared_rbm(args, _modalities(args, data.n_video, data.n_audio))
    if args.fine_tune != "none":
        shared.set_params(
            fine_tune=args.fine_tune, fine_tune_n_iter=args.fine_tune_n_iter
        )
    chunk_size = args.chunk_size
    if chunk_size is None and data.store:
        chunk_size = DEFAULT_CHUNK_SIZE
    # A store streams: its rows are read chunk_size at a time, never whole.
    shared.set_params(chunk_size=chunk_size)
    shared.fit(data.X)
    classifier = None
    if windows is not None:
        classifier = _fit_classifier(args, data, windows)
    bundle = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "shared": shared,
        "classifier": classifier,
        "n_segments": N_SEGMENTS,
        "fingerprint": data.fingerprint,
    }
    write_atomic(args.output, lambda tmp: save_model(bundle, tmp))
    what = "shared model and classifier" if classifier is not None else "shared model"
    print(f"wrote {args.output}: {what}")
    return EXIT_OK


# ----------------------------------------------------------------------------
# Using a model
# ----------------------------------------------------------------------------


def _is_skops_file(path):
    """Whether ``path`` is a skops archive (a zip file with a schema)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "schema.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _load_bundle(path):
    from . import load_model

    _require_file(path, "model file")
    if not _is_skops_file(path):  # a features file, say
        _fail(f"{path}: not a skmv model file (write one with skmv fit)")
    try:
        bundle = load_model(path)
    except ValueError as exc:
        raise UsageError(" ".join(str(exc).split())) from exc
    if (
        not isinstance(bundle, dict)
        or bundle.get("format") != MODEL_FORMAT
        or "shared" not in bundle
        or "fingerprint" not in bundle
    ):
        _fail(f"{path}: not a model written by skmv fit")
    if bundle.get("format_version") != FORMAT_VERSION:
        _fail(
            f"{path}: model format {bundle.get('format_version')}, this skmv "
            f"reads format {FORMAT_VERSION}; run skmv fit again"
        )
    return bundle


def _check_model_fits_here(bundle, model_path):
    """Refuse a model fitted on other features than this skmv computes."""
    video_names, audio_names = _feature_names()
    fp = bundle["fingerprint"]
    here = _fingerprint(
        len(video_names),
        len(audio_names),
        video_names + audio_names,
        fp.get("seconds"),
        _skmv_version(),
    )
    problem = _describe_mismatch(fp, here)
    if problem:
        _fail(
            f"{model_path}: fitted on other features than this skmv computes "
            f"({problem}); run skmv featurize and skmv fit again"
        )


def _featurize_files(paths, seconds, n_jobs, progress):
    # The classifier reads both modalities: a song or silent footage is
    # skipped, by name.
    segments = _segment(paths, seconds, streams=("video", "audio"))
    n_files = len(_by_file(segments)) + len(segments.skipped)
    X, kept, bad = _featurize_segments(segments, n_jobs=n_jobs, progress=progress)
    return X, kept, list(segments.skipped) + bad, n_files


def _query_segments(path, seconds, start, query, keep_last=False, excerpt=None):
    """The segments of the query file: all of them, or those of the excerpt
    of ``excerpt`` seconds (one segment by default) from ``start`` (0 by
    default); the file needs only the ``query`` modality (a song for a
    video, say)."""
    from .exceptions import MediaError
    from .io import Segment, call_isolated, probe

    _require_file(path, "query file")
    if start is None and excerpt is None:
        segments = _segment([path], seconds, streams=(query,), keep_last=keep_last)
        if segments.skipped:
            _fail(f"{path}: {_with_hint(segments.skipped[0][1])}")
        return segments
    if excerpt is not None and not excerpt > 0:
        _fail(f"--excerpt must be positive seconds, got {excerpt:g}")
    start = 0.0 if start is None else start
    # Whole segments: the excerpt's length rounded to the segments the
    # model compares (at least one).
    n = 1 if excerpt is None else max(1, round(excerpt / seconds))
    try:
        span = call_isolated(probe, path, path=path, timeout=60.0).span((query,))
    except MediaError as exc:
        raise UsageError(f"{path}: {exc.reason}") from exc
    length = n * seconds
    if start < 0 or start + length > span + 1e-6:
        what = (
            f"{length:g} s excerpt" if excerpt is not None else f"{seconds:g} s segment"
        )
        _fail(
            f"--start {start:g}: the {query} of {path} lasts {span:.2f} s, so a "
            f"{what} starts between 0 and {max(span - length, 0):.2f}"
        )
    return [
        Segment(path, float(start + i * seconds), float(seconds), modalities=(query,))
        for i in range(n)
    ]


def _cmd_retrieve(args):
    from .retrieval import CrossModalRetriever

    if args.report is not None:
        _require_output_dir(args.report)
    bundle = _load_bundle(args.model)
    database = _load_features(args.database, store=True)
    problem = _describe_mismatch(bundle["fingerprint"], database.fingerprint)
    if problem:
        _fail(
            f"{args.model} was fitted on other features than {args.database} "
            f"({problem})"
        )
    _check_model_fits_here(bundle, args.model)
    seconds = bundle["fingerprint"]["seconds"]
    segments = _query_segments(
        args.query_file,
        seconds,
        args.start,
        args.query,
        args.keep_last,
        args.excerpt,
    )
    target = "video" if args.query == "audio" else "audio"
    # Rows without the retrieved modality (songs in a database searched for
    # video) cannot be ranked by it: left out, their indices kept.
    rows = np.flatnonzero([target in m.split(",") for m in database.modalities])
    if not rows.size:
        _fail(
            f"{args.database}: no segment with {target} to retrieve: it holds "
            f"{len(database.modalities)} segment(s), "
            f"{_count_combinations(database.modalities.tolist())}"
        )
    X, kept, skipped = _featurize_segments(segments, progress=not args.quiet)
    if skipped:
        _fail(f"{skipped[0][0]}: {skipped[0][1]}")
    if args.by == "clip":
        return _retrieve_clips(args, bundle, database, rows, X, kept, target)
    retriever = CrossModalRetriever(
        bundle["shared"], args.query, target, space=args.space, prefit=True
    ).index(_database_rows(database, rows))
    k = min(args.k, retriever.n_database_)
    distances, indices = retriever.kneighbors(X, n_neighbors=k)
    indices = rows[indices]
    queries = []
    for segment, dist_row, index_row in zip(kept, distances, indices):
        print(
            f"{segment.path}  {_format_time(segment.start)}-"
            f"{_format_time(segment.end)} s  ({args.query} -> {target})"
        )
        matches = []
        for distance, i in zip(dist_row, index_row):
            start = float(database.start[i])
            end = start + float(database.duration[i])
            print(
                f"  {database.paths[i]}  {_format_time(start)}-{_format_time(end)} s"
                f"  {float(distance):.6f}"
            )
            matches.append((database.paths[i], start, end, i, distance))
        queries.append(((segment.path, segment.start, segment.end), matches))
    if args.report is not None:
        _write_report(args, database, target, len(rows), queries)
    return EXIT_OK


class _SelectedRows:
    """Rows ``rows`` (sorted indices) of a features store's ``X``, read when
    sliced: what CrossModalRetriever indexes chunk by chunk, so that a
    store's database is never read whole."""

    def __init__(self, X, rows):
        self.X, self.rows = X, rows
        self.shape, self.dtype = (rows.size, X.shape[1]), X.dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        rows, columns = key if isinstance(key, tuple) else (key, Ellipsis)
        if not isinstance(rows, slice):
            raise IndexError("rows of a store's selection are read by slices")
        return self.X[self.rows[rows]][:, columns]


def _database_rows(database, rows):
    """The database's rows ``rows``: an array from a features file, read on
    demand from a features store."""
    if not database.get("store"):
        return database.X[rows]
    if rows.size == database.X.shape[0]:
        return database.X
    return _SelectedRows(database.X, rows)


def _write_report(args, database, target, n_searched, queries):
    """``retrieve --report``: the page of the queries and their matches,
    as printed: ``queries`` holds ``((path, start, end), [(path, start,
    end, database row, distance), ...])`` per query."""
    from tqdm import tqdm

    from .report import Match, MediaSpan, Report

    what = "clips" if args.by == "clip" else "segments"
    n_matches = sum(len(matches) for _, matches in queries)
    k = max((len(matches) for _, matches in queries), default=0)
    report = Report(
        f"skmv retrieve: {os.path.basename(args.query_file)}",
        subtitle=(
            f"{args.query} \u2192 {target}: the {k} nearest of {n_searched} "
            f"{what} with {target} in {args.database} (model {args.model}, "
            f"--by {args.by}, --space {args.space})"
        ),
    )
    if args.by == "clip":
        text = (
            "The query, as one clip, slid over every database clip: each match "
            "is a whole clip, shown by the excerpt the query faces at its best "
            "offset; its score is the mean distance of the aligned segments "
            "(lower is nearer)."
        )
    else:
        text = (
            f"Each query segment and the database {what} whose {target} is "
            f"nearest to its {args.query}, nearest first (lower distance is "
            "nearer)."
        )
    report.add_text(None, text)
    with tqdm(
        total=n_matches + len(queries),
        unit="span",
        desc="report",
        file=sys.stderr,
        disable=args.quiet,
        dynamic_ncols=True,
    ) as bar:
        for (path, start, end), matches in queries:
            query = MediaSpan(path, start, end, modalities=(args.query,))
            report.add_query(
                query,
                [
                    Match(
                        MediaSpan(p, a, b, modalities=str(database.modalities[i])),
                        float(distance),
                    )
                    for p, a, b, i, distance in matches
                ],
                title=(
                    f"{os.path.basename(path)} {_format_time(start)}-"
                    f"{_format_time(end)} s ({args.query} \u2192 {target})"
                ),
            )
            bar.update(len(matches) + 1)
    report.write(args.report)
    _err(
        f"skmv: wrote {args.report}: {len(queries)} "
        f"{'query' if len(queries) == 1 else 'queries'}, {n_matches} matches "
        "(open it in a browser)"
    )
    for error in report.media_errors:
        _err(f"skmv: warning: the report cannot show {error.path}: {error.reason}")


def _retrieve_clips(args, bundle, database, rows, X, kept, target):
    """``retrieve --by clip``: the query's segments as one clip, slid over
    every database clip; one line per database clip, best first."""
    from .retrieval import ClipRetriever, CrossModalRetriever

    # Each database clip's rows in time order.
    clips = database.clips[rows]
    codes = np.unique(clips, return_inverse=True)[1]
    rows = rows[np.lexsort((database.start[rows], codes))]
    segment = CrossModalRetriever(
        bundle["shared"], args.query, target, space=args.space, prefit=True
    )
    retriever = ClipRetriever(segment).fit(
        database.X[rows], groups=database.clips[rows]
    )
    k = min(args.k, retriever.n_database_)
    scores, indices, offsets = retriever.kneighbors(
        X, np.zeros(len(kept), dtype=np.intp), n_neighbors=k
    )
    first, last = kept[0], kept[-1]
    print(
        f"{first.path}  {_format_time(first.start)}-{_format_time(last.end)} s  "
        f"({args.query} -> {target}, whole clips)"
    )
    by_clip = {}
    for row in rows:
        by_clip.setdefault(database.clips[row], []).append(row)
    matches = []
    for score, i, offset in zip(scores[0], indices[0], offsets[0]):
        clip_rows = by_clip[retriever.database_clips_[i]]
        # The database segments the query faces at its best offset.
        a = max(int(offset), 0)
        b = min(int(offset) + len(kept), len(clip_rows)) - 1
        start = float(database.start[clip_rows[a]])
        end = float(database.start[clip_rows[b]] + database.duration[clip_rows[b]])
        print(
            f"  {database.paths[clip_rows[0]]}  {_format_time(start)}-"
            f"{_format_time(end)} s  {float(score):.6f}"
        )
        matches.append((database.paths[clip_rows[0]], start, end, clip_rows[0], score))
    if args.report is not None:
        query = ((first.path, first.start, last.end), matches)
        _write_report(args, database, target, retriever.n_database_, [query])
    return EXIT_OK


def _cmd_classify(args):
    bundle = _load_bundle(args.model)
    classifier = bundle.get("classifier")
    if classifier is None:
        _fail(
            f"{args.model} has no classifier: it was fitted without labels "
            "(run skmv fit --labels labels.csv)"
        )
    _check_model_fits_here(bundle, args.model)
    seconds = bundle["fingerprint"]["seconds"]
    n_segments = int(bundle.get("n_segments", N_SEGMENTS))
    X, kept, skipped, n_files = _featurize_files(
        args.files, seconds, args.n_jobs, not args.quiet
    )
    clips = np.array([seg.clip for seg in kept], dtype=str)
    names, counts = np.unique(clips, return_counts=True)
    short = {str(c): int(n) for c, n in zip(names, counts) if n < n_segments}
    for clip, n in short.items():
        skipped.append(
            (
                clip,
                f"too short to classify: {n} segment(s) of {seconds:g} s, the "
                f"classifier reads windows of {n_segments}",
            )
        )
    rows = np.flatnonzero(~np.isin(clips, list(short)))
    if rows.size:
        order, proba = classifier.predict_proba_clips(X[rows], clips[rows])
        best = np.argmax(proba, axis=1)
        for clip, j, p in zip(order.tolist(), best, proba):
            print(f"{clip}  {classifier.classes_[j]}  {p[j]:.4f}")
    _report_skipped(skipped, n_files)
    if not rows.size:
        _fail("no clip to classify: every file was skipped")
    return EXIT_SKIPPED if skipped else EXIT_OK


def _cmd_demo(args):
    from .demo import main as demo_main

    return demo_main(args)


# ----------------------------------------------------------------------------
# The parser
# ----------------------------------------------------------------------------

_EPILOG = """\
exit codes:
  0    success
  2    usage error: a missing file, a file of the wrong kind or from another
       skmv version, a model for other features, labels for unknown clips,
       a model without a classifier, fit on rows without both modalities,
       a database without the retrieved modality (one line on stderr:
       "skmv: error: ...")
  3    done, but some media files were skipped (listed on stderr with why)
  130  interrupted (featurize --cache DIR resumes where it stopped)

Run "skmv COMMAND --help" for the options of a command.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions filled to the width, epilogs (the exit codes) as written."""

    def _fill_text(self, text, width, indent):
        if text.startswith("exit codes:"):
            return super()._fill_text(text, width, indent)
        return textwrap.fill(
            text, width, initial_indent=indent, subsequent_indent=indent
        )


def _build_parser():
    from . import __version__

    formatter = _Formatter
    parser = argparse.ArgumentParser(
        prog="skmv",
        description="Fuse the music and the video of music videos: featurize "
        "media files, fit a shared representation, retrieve across "
        "modalities, classify clips.",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"skmv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser(
        "featurize",
        help="media files -> features file (.npz)",
        description="Cut media files into segments and compute video and audio "
        "features, one row per segment, into a .npz file (-o) or a features "
        "store (--store DIR), which grows as files finish. Music videos, songs "
        "(audio only) and silent footage may be mixed: a modality a file lacks "
        "is NaN in its rows, each row's modalities are recorded, and the "
        "summary counts the clips of each kind. Files that cannot be used are "
        "skipped and listed at the end (exit code 3).",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="media files and folders of them: music videos, songs, footage",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", help="the features file to write (.npz)")
    where.add_argument(
        "--store",
        metavar="DIR",
        help="write into the features store DIR instead, as files finish: "
        "started again, it skips the files already in DIR (an interrupted run "
        "resumes), and more files are added to it; skmv fit DIR trains from "
        "it without loading it whole",
    )
    p.add_argument(
        "--seconds",
        type=float,
        metavar="S",
        default=6.0,
        help="segment length in seconds (default: 6)",
    )
    p.add_argument(
        "--keep-last",
        action="store_true",
        help="keep the last piece of each file shorter than --seconds as a "
        "shorter segment (a file shorter than one segment is skipped without)",
    )
    p.add_argument(
        "--n-jobs",
        type=_n_jobs,
        metavar="N",
        default=1,
        help="files featurized in parallel; -1 uses every core (default: 1)",
    )
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="keep each finished file's features in DIR, so that a run "
        "interrupted and started again with the same options resumes",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_featurize)

    p = commands.add_parser(
        "fit",
        help="features file -> model (.skops)",
        description="Learn a shared representation of video and audio "
        "(a standardised deep belief network per modality and a shared RBM over "
        "them) and, with --labels, a multi-timescale fusion classifier of "
        f"{N_SEGMENTS}-segment windows; write them to a model file. Every row "
        "must have both video and audio (features of music videos): a "
        "features file with rows of songs or silent footage is refused.",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "features",
        help="a features file written by skmv featurize, or a features store "
        "(featurize --store DIR), of music videos",
    )
    p.add_argument("-o", "--output", required=True, help="the model file (.skops)")
    p.add_argument(
        "--labels",
        metavar="CSV",
        help="CSV of 'clip,label' rows (clip ids as in the features file, or "
        "their file names) to also fit a classifier of whole clips",
    )
    p.add_argument(
        "--hidden-layers",
        type=_parse_layers,
        default=(256, 128),
        metavar="N,N",
        help="hidden units of each modality's deep belief network (default: 256,128)",
    )
    p.add_argument(
        "--n-components",
        type=_positive_int,
        metavar="N",
        default=256,
        help="units of the shared representation (default: 256)",
    )
    p.add_argument(
        "--n-iter",
        type=_positive_int,
        metavar="N",
        default=10,
        help="epochs of every RBM (default: 10)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        default=100,
        help="rows per mini-batch (default: 100)",
    )
    p.add_argument(
        "--fine-tune",
        choices=("none", "contrastive", "crossmodal"),
        default="contrastive",
        help="after pre-training, train the shared model for retrieval: "
        "'contrastive' for --space shared (retrieve's default), 'crossmodal' "
        "for --space input, 'none' for the paper's pre-trained model alone "
        "(default: contrastive, which puts the true match in the top 10 3 "
        "to 5 times as often as none in the user guide's measurements)",
    )
    p.add_argument(
        "--fine-tune-n-iter",
        type=_positive_int,
        metavar="N",
        default=100,
        help="epochs of fine-tuning (default: 100)",
    )
    p.add_argument(
        "--chunk-size",
        type=_positive_int,
        metavar="N",
        default=None,
        help="train by streaming N rows at a time, so that memory holds a few "
        f"chunks of rows, never the whole data (default: {DEFAULT_CHUNK_SIZE} "
        "for a features store; a .npz file is read whole)",
    )
    p.add_argument(
        "--random-state",
        type=int,
        metavar="N",
        default=0,
        help="seed of everything (default: 0)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="report every layer and epoch of the training",
    )
    p.set_defaults(handler=_cmd_fit)

    p = commands.add_parser(
        "retrieve",
        help="query with one modality of a file, list the nearest segments "
        "of the other",
        description="Featurize the segments of QUERY_FILE and, for each, list "
        "the k database segments whose other modality is nearest, as "
        "'path  start-end s  distance'; with --by clip, list the k database "
        "clips that fit the query best as a whole, as 'path  start-end s  "
        "score' (the time range the query faces at its best offset). The "
        "database may hold the retrieved modality alone (a music library for "
        "--query video, silent footage for --query audio); its rows without "
        "it are left out.",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", help="a model written by skmv fit")
    p.add_argument(
        "query_file",
        metavar="QUERY_FILE",
        help="a media file; only the query's modality is needed",
    )
    p.add_argument(
        "--database",
        required=True,
        metavar="NPZ|DIR",
        help="features file of the segments to search, or a features store "
        "(skmv featurize --store DIR), whose rows are embedded a chunk at a "
        "time instead of read whole; only the rows with the retrieved "
        "modality are searched",
    )
    p.add_argument(
        "-k",
        type=_positive_int,
        metavar="N",
        default=10,
        help="matches per query segment (default: 10)",
    )
    p.add_argument(
        "--query",
        choices=("audio", "video"),
        default="audio",
        help="the modality of the query; the other is retrieved (default: audio)",
    )
    p.add_argument(
        "--by",
        choices=("segment", "clip"),
        default="segment",
        help="'segment': for each query segment, the k nearest database "
        "segments; 'clip': the query's segments as one clip, slid over each "
        "database clip, and the k best clips, each with the time range of its "
        "best-aligned excerpt and the mean distance of the aligned segments "
        "(default: segment)",
    )
    p.add_argument(
        "--start",
        type=float,
        metavar="S",
        help="query with the one segment starting at S seconds, or with the "
        "--excerpt starting there (default: every segment of the file)",
    )
    p.add_argument(
        "--excerpt",
        type=float,
        metavar="SECONDS",
        help="query with a piece of the file this long (rounded to whole "
        "segments), from --start or from the beginning",
    )
    p.add_argument(
        "--keep-last",
        action="store_true",
        help="query with the last piece of the file too, when it is shorter "
        "than a segment (a query file shorter than one segment needs it)",
    )
    p.add_argument(
        "--space",
        choices=("shared", "input"),
        default="shared",
        help="compare in the shared representation, or in the retrieved "
        "modality's feature space with the query's reconstruction (the "
        "paper's way) (default: shared)",
    )
    p.add_argument(
        "--report",
        metavar="HTML",
        help="also write the results as one self-contained HTML page: key "
        "frames and audio players of each query and its matches, to look at "
        "and listen to in a browser (no server, nothing beside the file)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_retrieve)

    p = commands.add_parser(
        "classify",
        help="label whole clips with a model's classifier",
        description="Featurize media files and print, for each clip, the label "
        "the model's classifier gives it and that label's probability, as "
        "'clip  label  probability'. Clips need at least "
        f"{N_SEGMENTS} segments, and both video and audio (songs and silent "
        "footage are skipped).",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", help="a model written by skmv fit --labels")
    p.add_argument("files", nargs="+", metavar="FILE", help="media files and folders")
    p.add_argument(
        "--n-jobs",
        type=_n_jobs,
        metavar="N",
        default=1,
        help="files featurized in parallel (default: 1)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_classify)

    commands.add_parser(
        "demo",
        help="generate music videos, run the method and its baselines, print "
        "the results and plot them (see skmv demo --help)",
        add_help=False,
    )
    return parser


def main(argv=None):
    """Run the ``skmv`` command.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        The exit code: 0 success, 2 a usage error (reported on stderr as one
        line starting ``skmv: error:``), 3 some media files were skipped,
        130 interrupted.

    Examples
    --------
    >>> from skmv.cli import main
    >>> main(["featurize", "no-such-file.mp4", "-o", "features.npz"])
    2
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        # The demo keeps its own options and help (python -m skmv.demo).
        return _cmd_demo(args[1:])
    parsed = _build_parser().parse_args(args)
    try:
        return parsed.handler(parsed)
    except UsageError as exc:
        # One line, whatever the message held.
        _err(f"skmv: error: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        resume = ""
        if getattr(parsed, "store", None):
            resume = (
                "; run the same command again to resume: the files already in "
                f"{parsed.store} are kept"
            )
        elif getattr(parsed, "cache", None):
            resume = "; run the same command again to resume from the cache"
        _err("\nskmv: interrupted" + resume)
        return EXIT_INTERRUPTED
