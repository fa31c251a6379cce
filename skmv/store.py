"""Feature stores: rows of features in a directory, written chunk by chunk as
they are computed, read as one array that never needs to fit in memory.

A store is what ``skmv featurize --store DIR`` writes and ``skmv fit DIR``
trains from, and what the estimators' ``chunk_size`` streams from
(:attr:`FeatureStore.X`). Its layout::

    DIR/manifest.json        what every row is: feature names, dtype, the
                             names of the per-row fields, free attributes
    DIR/index.jsonl          one line per chunk, written last: its number,
                             its rows, the source files it holds
    DIR/chunks/000000.npy    the chunk's rows, (n_rows, n_features)
    DIR/chunks/000000.rows.npz  the chunk's per-row fields (clips, paths...)

A chunk counts once its line is in the index: its files are written whole
first (under a temporary name, then renamed), so that an interrupted writer
leaves the store as it was before the chunk, and a later :meth:`append`
goes on from there. One process writes to a store at a time.
"""

from __future__ import annotations

import json
import os
from numbers import Integral

import numpy as np

from ._files import write_atomic

__all__ = ["FeatureStore", "StoreArray"]

FORMAT = "skmv-feature-store"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_INDEX = "index.jsonl"
_CHUNKS = "chunks"


def _chunk_path(root, number, suffix):
    return os.path.join(root, _CHUNKS, f"{number:06d}{suffix}")


class StoreArray:
    """The rows of a :class:`FeatureStore`, read from its chunk files on
    demand: a 2-D array-like of shape ``(n_rows, n_features)``.

    Indexing reads only the chunks it needs (memory-mapped): ``A[a:b]``,
    ``A[rows]`` (int indices or a boolean mask), ``A[rows, columns]``;
    ``np.asarray(A)`` reads it all. The estimators' ``chunk_size`` reads it
    by row slices. It shows the chunks the store had when it was made.
    """

    ndim = 2

    def __init__(self, root, numbers, counts, n_features, dtype):
        self._root = root
        self._numbers = list(numbers)
        self._offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.shape = (int(self._offsets[-1]), int(n_features))
        self.dtype = np.dtype(dtype)
        self._open = {}

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (
            f"StoreArray(shape={self.shape}, dtype={self.dtype}, "
            f"chunks={len(self._numbers)})"
        )

    def _chunk(self, k):
        """Chunk ``k`` (its position in the store), memory-mapped."""
        if k not in self._open:
            path = _chunk_path(self._root, self._numbers[k], ".npy")
            try:
                A = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise OSError(
                    f"{path}: cannot read this chunk of the store: {exc}"
                ) from exc
            expected = (int(self._offsets[k + 1] - self._offsets[k]), self.shape[1])
            if A.shape != expected:
                raise ValueError(
                    f"{path}: damaged chunk, shape {A.shape} where the index "
                    f"says {expected}."
                )
            self._open[k] = A
        return self._open[k]

    def _slice(self, start, stop):
        n = self.shape[0]
        out = np.empty((max(0, stop - start), self.shape[1]), self.dtype)
        if stop <= start:
            return out
        first = int(np.searchsorted(self._offsets, start, side="right")) - 1
        last = int(np.searchsorted(self._offsets, min(stop, n), side="left"))
        for k in range(first, last):
            lo, hi = self._offsets[k], self._offsets[k + 1]
            a, b = max(start, lo), min(stop, hi)
            out[a - start : b - start] = self._chunk(k)[a - lo : b - lo]
        return out

    def _take(self, idx):
        out = np.empty((idx.size, self.shape[1]), self.dtype)
        if idx.size == 0:
            return out
        chunk = np.searchsorted(self._offsets, idx, side="right") - 1
        for k in np.unique(chunk).tolist():
            where = np.flatnonzero(chunk == k)
            out[where] = self._chunk(k)[idx[where] - self._offsets[k]]
        return out

    def __getitem__(self, key):
        rows, columns = key if isinstance(key, tuple) else (key, slice(None))
        n = self.shape[0]
        if isinstance(rows, Integral):
            if not -n <= rows < n:
                raise IndexError(f"row {rows} is out of range for {n} rows")
            return self._slice(rows % n, rows % n + 1)[0, columns]
        if isinstance(rows, slice):
            start, stop, step = rows.indices(n)
            if step == 1:
                return self._slice(start, stop)[:, columns]
            rows = np.arange(start, stop, step)
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (n,):
                raise IndexError(f"boolean index of {rows.shape} for {n} rows")
            rows = np.flatnonzero(rows)
        if rows.dtype.kind not in "iu" or rows.ndim != 1:
            raise IndexError(
                "a store's rows are indexed by an int, a slice, int indices or a "
                f"boolean mask; got {key!r}"
            )
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row indices out of range for {n} rows")
        out = self._take(np.where(rows < 0, rows + n, rows))
        if isinstance(columns, (slice, Integral)):
            return out[:, columns]
        # Two index arrays pair up, as NumPy's advanced indexing has them.
        return out[np.arange(rows.size), columns]

    def __array__(self, dtype=None, copy=None):
        A = self._slice(0, self.shape[0])
        return A if dtype is None else A.astype(dtype, copy=False)


class FeatureStore:
    """Rows of features in a directory, appended chunk by chunk.

    Open an existing store with ``FeatureStore(path)``, make a new one with
    :meth:`create`. :meth:`append` adds a chunk of rows, with one value per
    row of each field the store declares and the source files the rows come
    from, so that an interrupted or extended computation skips the sources
    already there (:attr:`sources`).

    Parameters
    ----------
    path : str or path-like
        A directory written by :meth:`create`.

    Attributes
    ----------
    path : str
    feature_names : list of str
        Names of the columns of :attr:`X`.
    dtype : numpy.dtype
        Type of the stored rows.
    row_fields : tuple of str
        Names of the per-row fields, read with :meth:`rows`.
    attrs : dict
        Free JSON attributes given at creation (what made the features).
    n_rows : int
    n_chunks : int
    sources : frozenset of str
        The sources of the rows appended so far.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skmv.store import FeatureStore
    >>> path = os.path.join(tempfile.mkdtemp(), "store")
    >>> store = FeatureStore.create(path, feature_names=["a", "b"], row_fields=["clip"])
    >>> store.append(np.ones((3, 2)), clip=["x", "x", "x"], sources=["x.mp4"]).n_rows
    3
    >>> store.append(np.zeros((2, 2)), clip=["y", "y"], sources=["y.mp4"]).X.shape
    (5, 2)
    >>> FeatureStore(path).X[2:4]
    array([[1., 1.],
           [0., 0.]], dtype=float32)
    >>> sorted(FeatureStore(path).sources)
    ['x.mp4', 'y.mp4']
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        manifest = os.path.join(self.path, _MANIFEST)
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"{self.path}: no such feature store (directory)")
        try:
            with open(manifest, encoding="utf-8") as f:
                header = json.load(f)
        except FileNotFoundError:
            raise ValueError(
                f"{self.path}: not a skmv feature store (no {_MANIFEST})"
            ) from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{manifest}: unreadable manifest ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{self.path}: not a skmv feature store ({manifest})")
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{self.path}: feature store format {header.get('format_version')}, "
                f"this skmv reads format {FORMAT_VERSION}"
            )
        self.feature_names = [str(name) for name in header["feature_names"]]
        self.dtype = np.dtype(header["dtype"])
        self.row_fields = tuple(header["row_fields"])
        self.attrs = dict(header.get("attrs") or {})
        self._read_index()

    @classmethod
    def create(cls, path, *, feature_names, row_fields=(), attrs=None, dtype="float32"):
        """Make an empty store in the directory ``path`` (new or empty).

        Parameters
        ----------
        path : str or path-like
        feature_names : sequence of str
            Names of the columns; their number is the store's width.
        row_fields : sequence of str, default=()
            Names of the per-row fields each :meth:`append` gives.
        attrs : dict or None, default=None
            JSON-serialisable attributes kept in the manifest.
        dtype : str, default="float32"
            Type of the stored rows.

        Returns
        -------
        store : FeatureStore
        """
        path = os.fspath(path)
        if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            if os.path.exists(os.path.join(path, _MANIFEST)):
                raise FileExistsError(
                    f"{path}: already a feature store; open it with FeatureStore(path)"
                )
            raise FileExistsError(
                f"{path}: exists and is not an empty directory; a feature store "
                "needs a directory of its own"
            )
        feature_names = [str(name) for name in feature_names]
        row_fields = [str(name) for name in row_fields]
        if not feature_names:
            raise ValueError("feature_names must name at least one column")
        if len(set(row_fields)) != len(row_fields) or "sources" in row_fields:
            raise ValueError(
                f"row_fields must be distinct names other than 'sources', got "
                f"{row_fields}"
            )
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dtype": np.dtype(dtype).name,
            "feature_names": feature_names,
            "row_fields": row_fields,
            "attrs": attrs or {},
        }
        text = json.dumps(header, indent=1)  # fails here on attrs JSON can't hold
        os.makedirs(os.path.join(path, _CHUNKS), exist_ok=True)
        open(os.path.join(path, _INDEX), "a").close()

        def write(partial):
            with open(partial, "w", encoding="utf-8") as f:
                f.write(text)

        write_atomic(os.path.join(path, _MANIFEST), write)
        return cls(path)

    # ------------------------------------------------------------------
    # The index
    # ------------------------------------------------------------------

    def _read_index(self):
        """Chunks whose index line is complete; a torn last line (a writer
        interrupted while writing it) does not count."""
        self._numbers, self._counts, sources = [], [], set()
        try:
            with open(os.path.join(self.path, _INDEX), "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            lines = []
        for lineno, line in enumerate(lines[:-1], start=1):
            # (the last piece has no newline: not committed)
            try:
                entry = json.loads(line)
                number, count = int(entry["chunk"]), int(entry["n_rows"])
                sources.update(str(source) for source in entry["sources"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{os.path.join(self.path, _INDEX)}, line {lineno}: damaged "
                    f"index of the feature store ({exc})"
                ) from exc
            self._numbers.append(number)
            self._counts.append(count)
        self.sources = frozenset(sources)

    @property
    def n_rows(self):
        return int(sum(self._counts))

    @property
    def n_chunks(self):
        return len(self._numbers)

    @property
    def X(self):
        """The rows, a :class:`StoreArray` of shape ``(n_rows, n_features)``."""
        return StoreArray(
            self.path, self._numbers, self._counts, len(self.feature_names), self.dtype
        )

    def rows(self, field):
        """One per-row field over every chunk, as one array of ``n_rows``."""
        if field not in self.row_fields:
            raise KeyError(
                f"{field!r} is not a row field of {self.path}; it has "
                f"{list(self.row_fields)}"
            )
        parts = []
        for number in self._numbers:
            path = _chunk_path(self.path, number, ".rows.npz")
            with np.load(path, allow_pickle=False) as npz:
                parts.append(npz[field])
        if not parts:
            return np.empty(0)
        return np.concatenate(parts)

    def __repr__(self):
        return (
            f"FeatureStore({self.path!r}: {self.n_rows} rows x "
            f"{len(self.feature_names)} features in {self.n_chunks} chunks)"
        )

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    def append(self, X, *, sources=(), **rows):
        """Add the rows ``X`` as one chunk, committed when this returns.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Cast to the store's dtype.
        sources : sequence of str, default=()
            The sources (files) the rows come from, recorded in
            :attr:`sources`.
        **rows : array-like of shape (n_rows,)
            One value per row of each of the store's ``row_fields``.

        Returns
        -------
        self : FeatureStore
        """
        X = np.asarray(X)
        width = len(self.feature_names)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(
                f"{self.path}: a chunk needs rows of {width} features, got an "
                f"array of shape {X.shape}"
            )
        if set(rows) != set(self.row_fields):
            raise ValueError(
                f"{self.path}: a chunk needs the row fields {list(self.row_fields)}, "
                f"got {sorted(rows)}"
            )
        fields = {name: np.asarray(value) for name, value in rows.items()}
        for name, value in fields.items():
            if value.shape != (X.shape[0],):
                raise ValueError(
                    f"{self.path}: row field {name!r} has shape {value.shape}, "
                    f"not one value per row ({X.shape[0]})"
                )
        X = np.ascontiguousarray(X, dtype=self.dtype)
        number = max(self._numbers, default=-1) + 1
        sources = [str(source) for source in sources]

        def write_rows(partial):
            with open(partial, "wb") as f:  # a file object: no suffix added
                np.save(f, X, allow_pickle=False)

        def write_fields(partial):
            with open(partial, "wb") as f:
                np.savez(f, **fields)

        write_atomic(_chunk_path(self.path, number, ".npy"), write_rows)
        write_atomic(_chunk_path(self.path, number, ".rows.npz"), write_fields)
        line = json.dumps(
            {"chunk": number, "n_rows": int(X.shape[0]), "sources": sources}
        )
        self._commit(line)
        self._numbers.append(number)
        self._counts.append(int(X.shape[0]))
        self.sources = self.sources | frozenset(sources)
        return self

    def _commit(self, line):
        """Append ``line`` to the index, after cutting a torn last line."""
        index = os.path.join(self.path, _INDEX)
        with open(index, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            tail = 1 << 16
            while True:
                start = max(0, size - tail)
                f.seek(start)
                data = f.read()
                cut = data.rfind(b"\n")
                if cut >= 0 or start == 0:
                    break
                tail *= 4
            keep = start + cut + 1
            if keep != size:
                f.seek(keep)
                f.truncate()
            f.seek(0, os.SEEK_END)
            f.write(line.encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
