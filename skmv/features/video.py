"""Video features of music-video segments (Xu, Wang and Tang 2014, section 2.2).

Per frame (intra-frame): a histogram of oriented gradients (HOG), a joint HSV
colour histogram and a histogram of uniform local binary patterns (LBP).
Between adjacent frames (inter-frame): a magnitude-weighted histogram of
oriented optical flow (DIS flow) and the distances of the HOG, colour and LBP
descriptors. Per segment: the mean and standard deviation of each over its
frames.

Conventions, stated once:

* Frames are ``(n_frames, height, width, 3)`` uint8 RGB (as ``skmv.io``
  decodes them), or ``(n_frames, height, width)`` uint8 grey where a
  descriptor needs grey only. **Time is the first axis** of every frame stack
  and every descriptor array: ``descriptors[t]`` describes ``frames[t]``, and
  ``pair_descriptors[t]`` describes the step from ``frames[t]`` to
  ``frames[t + 1]``.
* Image coordinates: x to the right, y **down**. A flow angle of 0 is motion
  to the right, ``pi / 2`` (+90 degrees) motion **down**, ``pi`` to the left.
* Sizes are ``(width, height)`` in pixels, as ``cv2.resize`` takes them.
* Each pure function computes at the resolution it is given; cell sizes are
  in pixels of its input. :func:`segment_features` and
  :class:`VideoFeaturizer` first shrink the frames by ``scale`` and give sizes
  in pixels of the working frame.

The functions follow librosa's pattern: where a descriptor has a costly
intermediate (the optical flow) it can be passed in precomputed, and
:func:`segment_features` accepts any per-frame descriptor precomputed.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_memory

from .. import _backend as B
from ._batch import featurize_segments

__all__ = [
    "VideoFeaturizer",
    "color_histograms",
    "feature_names",
    "frame_distances",
    "frame_windows",
    "grey_frames",
    "hog_descriptors",
    "hog_dimension",
    "lbp_histograms",
    "optical_flow",
    "optical_flow_histograms",
    "resize_frames",
    "segment_features",
]

# Neighbours of the 8-bit LBP code, bit k for neighbour k, counter-clockwise
# from the east in image coordinates (y down): E, NE, N, NW, W, SW, S, SE.
_LBP_OFFSETS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))
# L2-Hys clipping threshold (Dalal and Triggs 2005; Lowe's SIFT).
_HOG_CLIP = 0.2
# Frames per pass of the pixel-wise work: temporaries of about 1 MB each
# (at 160x120) stay in cache and are reused instead of paged in afresh.
_CHUNK = 8
# HSV ranges of OpenCV's 8-bit conversion: hue in [0, 180), S and V in [0, 256).
_HSV_RANGES = (180, 256, 256)


# ----------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------


def _check_stack(frames, *, name="frames", min_frames=1, min_size=1, grey_ok=True):
    """``frames`` as a uint8 array of shape (T, H, W, 3) (or (T, H, W) grey).

    Integer or float arrays with values in [0, 255] are cast (floats rounded);
    anything else raises a ValueError that says what was expected.
    """
    frames = np.asarray(frames)
    ok_ndim = frames.ndim == 4 and frames.shape[-1] == 3
    if grey_ok:
        ok_ndim = ok_ndim or frames.ndim == 3
    if not ok_ndim:
        expected = "(n_frames, height, width, 3) RGB" + (
            " or (n_frames, height, width) grey" if grey_ok else ""
        )
        raise ValueError(
            f"{name} must have shape {expected}; got shape {frames.shape}."
        )
    if frames.shape[0] < min_frames:
        raise ValueError(
            f"{name} has {frames.shape[0]} frame(s); at least {min_frames} are "
            "needed (inter-frame features compare adjacent frames)."
        )
    if min(frames.shape[1:3]) < min_size:
        raise ValueError(
            f"{name} has frames of {frames.shape[2]}x{frames.shape[1]} pixels; at "
            f"least {min_size}x{min_size} are needed."
        )
    if frames.dtype == np.uint8:
        return frames
    if frames.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric (uint8 RGB); got {frames.dtype}.")
    lo, hi = (frames.min(), frames.max()) if frames.size else (0, 0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 255:
        raise ValueError(
            f"{name} values must lie in [0, 255] (8-bit intensities); got "
            f"{frames.dtype} values in [{lo}, {hi}]."
        )
    if frames.dtype.kind == "f":
        if 0 < hi <= 1:
            raise ValueError(
                f"{name} has float values in [0, 1]; pass 8-bit intensities "
                "(multiply by 255 and cast to uint8)."
            )
        frames = np.rint(frames)
    return frames.astype(np.uint8)


def resize_frames(frames, *, size):
    """Resize every frame to ``size`` with pixel-area averaging.

    ``cv2.INTER_AREA`` averages the input pixels that each output pixel
    covers: the right filter for shrinking (no aliasing), a plain bilinear
    resize for enlarging. The aspect ratio is not kept: frames are stretched
    to ``size``, as the paper scales every video to 320x240.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width[, 3]), uint8
    size : (int, int)
        ``(width, height)`` of the output, in pixels.

    Returns
    -------
    resized : ndarray of shape (n_frames, size[1], size[0][, 3]), uint8
        ``frames`` itself when it has that size already.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import resize_frames
    >>> frames = np.zeros((4, 480, 640, 3), np.uint8)
    >>> resize_frames(frames, size=(320, 240)).shape
    (4, 240, 320, 3)
    """
    frames = _check_stack(frames)
    width, height = (int(s) for s in size)
    if frames.shape[1:3] == (height, width):
        return frames
    out = np.empty((len(frames), height, width) + frames.shape[3:], np.uint8)
    for t, frame in enumerate(frames):
        out[t] = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return out


def grey_frames(frames):
    """Luma of RGB frames, ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601).

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width, 3), uint8 RGB
        Grey frames ``(n_frames, height, width)`` are returned as they are.

    Returns
    -------
    grey : ndarray of shape (n_frames, height, width), uint8
    """
    frames = _check_stack(frames)
    if frames.ndim == 3:
        return frames
    T, H, W, _ = frames.shape
    # A pixel-wise conversion: the stack goes through as one tall image.
    flat = np.ascontiguousarray(frames).reshape(T * H, W, 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).reshape(T, H, W)


def frame_windows(x, *, frame_length, hop_length):
    """Windows of consecutive frames (or descriptors), as a read-only view.

    Cuts a long frame stack, or the per-frame descriptors of a whole clip,
    into segments without copying (like ``librosa.util.frame``, with time on
    the first axis).

    Parameters
    ----------
    x : ndarray of shape (n_frames, ...)
    frame_length : int > 0
        Frames per window (72 for 6 s at 12 fps).
    hop_length : int > 0
        Frames between the starts of consecutive windows (``frame_length``
        for the paper's segments, which neither overlap nor skip).

    Returns
    -------
    windows : ndarray of shape (n_windows, frame_length, ...)
        ``windows[j] == x[j * hop_length : j * hop_length + frame_length]``,
        ``n_windows = 1 + (n_frames - frame_length) // hop_length``; a
        read-only view of ``x``. A final partial window is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import frame_windows
    >>> frame_windows(np.arange(10), frame_length=4, hop_length=4)
    array([[0, 1, 2, 3],
           [4, 5, 6, 7]])
    """
    x = np.asarray(x)
    frame_length, hop_length = int(frame_length), int(hop_length)
    if frame_length < 1 or hop_length < 1:
        raise ValueError(
            f"frame_length and hop_length must be >= 1; got {frame_length} and "
            f"{hop_length}."
        )
    if x.shape[0] < frame_length:
        raise ValueError(
            f"Input is too short (n={x.shape[0]}) for frame_length={frame_length}."
        )
    n_windows = 1 + (x.shape[0] - frame_length) // hop_length
    return np.lib.stride_tricks.as_strided(
        x,
        shape=(n_windows, frame_length) + x.shape[1:],
        strides=(hop_length * x.strides[0],) + x.strides,
        writeable=False,
    )


# ----------------------------------------------------------------------------
# Intra-frame descriptors
# ----------------------------------------------------------------------------


def _hog_grid(height, width, cell, block):
    """Cells across and down, and the centred crop they cover."""
    ny, nx = height // cell, width // cell
    if ny < block or nx < block:
        raise ValueError(
            f"Frames of {width}x{height} pixels hold {nx}x{ny} HOG cells of "
            f"{cell} pixels, fewer than one block of {block}x{block} cells; use "
            "smaller cells or blocks."
        )
    return ny, nx, (height - ny * cell) // 2, (width - nx * cell) // 2


def hog_dimension(*, height, width, cell=20, block=2, bins=9):
    """Length of one frame's HOG descriptor (see :func:`hog_descriptors`)."""
    ny, nx, _, _ = _hog_grid(height, width, cell, block)
    return (ny - block + 1) * (nx - block + 1) * block * block * bins


def _magnitude_(x, y):
    """sqrt(x^2 + y^2), in place in ``x`` (``y`` is overwritten too).

    NumPy's element-wise operations are correctly rounded, so the result does
    not depend on memory alignment; ``cv2.magnitude``'s does, in the last bit.
    """
    np.multiply(x, x, out=x)
    np.multiply(y, y, out=y)
    x += y
    return np.sqrt(x, out=x)


@functools.lru_cache(maxsize=8)
def _mod_lut(n):
    lut = (np.arange(256) % n).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _floor_mod(pos, n, bound):
    """(floor(pos) mod n, pos - floor(pos)) of float32 ``pos`` in [0, bound]."""
    if bound < 255:
        whole = pos.astype(np.uint8)
        return cv2.LUT(whole, _mod_lut(n)), pos - whole
    whole = pos.astype(np.int32)
    return whole % n, pos - whole


@functools.lru_cache(maxsize=8)
def _cell_index(ny, nx, cell, bins):
    """Index of the first bin of each pixel's cell, (i * nx + j) * bins."""
    rows = np.repeat(np.arange(ny, dtype=np.intp), cell)
    cols = np.repeat(np.arange(nx, dtype=np.intp), cell)
    base = (rows[:, None] * nx + cols[None, :]) * bins
    base.flags.writeable = False
    return base


def _hog_cells(grey, ny, nx, y0, x0, cell, bins):
    """Orientation histograms of the cells of grey frames, (T, ny, nx, bins)."""
    T, H, W = grey.shape
    # Gradients of the stack at once (one tall image); the rows where frames
    # meet get gy = 0, as every frame's outer rows do.
    flat = grey.reshape(T * H, W)
    gx = cv2.Sobel(flat, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(flat, cv2.CV_32F, 0, 1, ksize=1)
    gy3 = gy.reshape(T, H, W)
    gy3[:, 0] = 0.0
    gy3[:, -1] = 0.0
    # Position on the circular bin axis, p = theta / (pi / bins) - 1/2,
    # shifted by 2 bins so that it is positive (truncation is floor):
    # theta in (-pi, pi] gives p in (bins - 1/2, 3 bins - 1/2].
    pos = np.arctan2(gy, gx)
    pos *= np.float32(bins / np.pi)
    pos += np.float32(2 * bins - 0.5)
    mag = _magnitude_(gx, gy)
    low, frac = _floor_mod(pos, bins, 3 * bins)
    crop = (slice(None), slice(y0, y0 + ny * cell), slice(x0, x0 + nx * cell))
    low = low.reshape(T, H, W)[crop]
    mag = mag.reshape(T, H, W)[crop]
    frac = frac.reshape(T, H, W)[crop]
    # Bin of frame t, cell (i, j), orientation k: ((t ny + i) nx + j) bins + k.
    index = np.add(low, _cell_index(ny, nx, cell, bins), dtype=np.intp)
    index += (np.arange(T, dtype=np.intp) * (ny * nx * bins))[:, None, None]
    index = index.ravel()
    size = T * ny * nx * bins
    # Each pixel gives m (1 - frac) to bin `low` and m frac to bin `low + 1`:
    # two bincounts on one index, the second rolled by one bin.
    whole = np.bincount(index, weights=mag.ravel(), minlength=size)
    frac *= mag
    upper = np.bincount(index, weights=frac.ravel(), minlength=size)
    upper = upper.reshape(T, ny, nx, bins)
    cells = whole.reshape(T, ny, nx, bins) - upper + np.roll(upper, 1, axis=-1)
    return np.maximum(cells, 0.0, out=cells)  # rounding of whole - upper


def hog_descriptors(frames, *, cell=20, block=2, bins=9):
    """Histograms of oriented gradients (Dalal and Triggs 2005), one per frame.

    On the grey frame, gradients are centred differences ``[-1, 0, 1]``
    (zero on the outer pixel ring) with magnitude ``m = sqrt(gx^2 + gy^2)``
    (grey levels per pixel) and unsigned orientation
    ``theta = arctan2(gy, gx) mod pi``. Each pixel votes ``m`` into the
    ``bins`` orientation bins of its cell, split linearly between the two
    bins whose centres ``(k + 1/2) pi / bins`` surround ``theta``. Cells are
    ``cell x cell`` pixel squares tiling a centred crop of the frame; blocks
    are ``block x block`` cells, one cell apart. A block's vector ``v`` (cells
    in row-major order, bins last) is normalised by L2-Hys with a damping
    ``eps`` of one grey level per block pixel::

        u = v / sqrt(||v||^2 + eps^2),    eps = (block * cell)^2
        hog = min(u, 0.2) * ||u|| / ||min(u, 0.2)||

    so that a block with strong edges has unit norm and a flat block
    (compression noise) stays near zero instead of being blown up to it.
    Written out here rather than taken from ``cv2.HOGDescriptor`` (whose
    values change between OpenCV releases, and which OpenCV 5 moves to its
    contrib package): the gradients are exact integers and the rest is NumPy
    arithmetic. Unlike Dalal and Triggs, votes are not interpolated
    spatially between cells and blocks have no Gaussian window, both of
    which matter little for cells this coarse.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width[, 3]), uint8
        RGB frames (converted with :func:`grey_frames`) or grey frames.
    cell : int > 0, default=20
        Cell side in pixels of ``frames``. 20 at 160x120 (the
        :class:`VideoFeaturizer` default) is 40 at 320x240: 8x6 cells.
    block : int > 0, default=2
        Block side in cells.
    bins : int > 1, default=9
        Orientation bins over [0, pi) (20 degrees each by default).

    Returns
    -------
    hog : ndarray of shape (n_frames, n_blocks * block**2 * bins), float32
        ``hog[t].reshape(n_blocks_y, n_blocks_x, block, block, bins)`` with
        ``n_blocks_y = height // cell - block + 1`` (likewise x). Values in
        [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import hog_descriptors
    >>> frames = np.random.default_rng(0).integers(0, 256, (3, 120, 160, 3), np.uint8)
    >>> hog_descriptors(frames).shape  # 7 x 5 blocks of 2 x 2 cells of 9 bins
    (3, 1260)
    """
    grey = grey_frames(frames)
    cell, block, bins = int(cell), int(block), int(bins)
    T, H, W = grey.shape
    ny, nx, y0, x0 = _hog_grid(H, W, cell, block)
    cells = np.empty((T, ny, nx, bins))
    for start in range(0, T, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        cells[chunk] = _hog_cells(grey[chunk], ny, nx, y0, x0, cell, bins)
    blocks = np.lib.stride_tricks.sliding_window_view(cells, (block, block), (1, 2))
    # (T, by, bx, bins, block, block) -> (T, by, bx, block, block, bins)
    v = np.moveaxis(blocks, 3, -1).reshape(T, -1, block * block * bins)
    eps = float(block * cell) ** 2
    u = v / np.sqrt(np.sum(v * v, axis=-1, keepdims=True) + eps * eps)
    norm_u = np.sqrt(np.sum(u * u, axis=-1, keepdims=True))
    c = np.minimum(u, _HOG_CLIP)
    norm_c = np.sqrt(np.sum(c * c, axis=-1, keepdims=True))
    hog = c * np.divide(norm_u, norm_c, out=np.zeros_like(norm_u), where=norm_c > 0)
    return hog.reshape(T, -1).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _hsv_luts(bins, premultiplied):
    """Per-channel lookup tables from 8-bit H, S, V to bin index (times the
    joint-index stride of the channel when ``premultiplied``)."""
    luts = []
    strides = (bins[1] * bins[2], bins[2], 1) if premultiplied else (1, 1, 1)
    for n, span, stride in zip(bins, _HSV_RANGES, strides):
        v = np.arange(256)
        lut = (np.minimum(v * n // span, n - 1) * stride).astype(np.uint8)
        lut.flags.writeable = False
        luts.append(lut)
    return tuple(luts)


def color_histograms(frames, *, bins=(8, 4, 4)):
    """Joint hue-saturation-value histograms, one per frame.

    Frames are converted with OpenCV's 8-bit RGB to HSV (hue ``H`` in
    [0, 180), half the hue angle in degrees; saturation ``S`` and value ``V``
    in [0, 256)). Each channel is cut into equal bins by integer arithmetic,
    ``b = (x * n) // range``, and the joint bin of a pixel is
    ``(b_H * n_S + b_S) * n_V + b_V``. With the default ``(8, 4, 4)``, hue
    bins are 45 degrees wide, centred at 22.5 + 45 k: red falls in bin 0 (and
    7), green (120 degrees) in bin 2, blue (240 degrees) in bin 5. Grey pixels
    (``S = 0``) have hue 0.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width, 3), uint8 RGB
    bins : (int, int, int), default=(8, 4, 4)
        Bins of H, S and V.

    Returns
    -------
    hist : ndarray of shape (n_frames, n_H * n_S * n_V), float32
        Fractions of the frame's pixels (each row sums to 1);
        ``hist[t].reshape(n_H, n_S, n_V)`` is the joint histogram.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import color_histograms
    >>> red = np.zeros((1, 8, 8, 3), np.uint8)
    >>> red[..., 0] = 255
    >>> h = color_histograms(red).reshape(8, 4, 4)
    >>> float(h[0, 3, 3])  # hue bin 0, full saturation, full value
    1.0
    """
    frames = _check_stack(frames, grey_ok=False)
    bins = tuple(int(b) for b in bins)
    if len(bins) != 3 or min(bins) < 1 or any(b > r for b, r in zip(bins, _HSV_RANGES)):
        raise ValueError(
            "bins must be three ints (hue, saturation, value) in [1, 180], "
            f"[1, 256] and [1, 256]; got {bins}."
        )
    T, H, W, _ = frames.shape
    flat = np.ascontiguousarray(frames).reshape(T * H, W, 3)
    hsv = cv2.cvtColor(flat, cv2.COLOR_RGB2HSV)
    n = bins[0] * bins[1] * bins[2]
    hist = np.empty((T, n), np.float32)
    if n <= 256:
        # Fast path: the joint bin as one uint8 image (per-channel tables
        # premultiplied by the channel's stride, then summed), counted per frame.
        luts = _hsv_luts(bins, True)
        joint = None
        for channel, lut in zip(cv2.split(hsv), luts):
            part = cv2.LUT(channel, lut)
            joint = part if joint is None else cv2.add(joint, part)
        joint = joint.reshape(T, H, W)
        # calcHist per frame: faster than one offset np.bincount (see LBP).
        for t in range(T):
            hist[t] = cv2.calcHist([joint[t]], [0], None, [n], [0, n])[:, 0]
    else:
        # Integer bin indices in [0, n): OpenCV's uniform binning is exact.
        lut = np.stack(_hsv_luts(bins, False), axis=-1).reshape(256, 1, 3)
        quantised = cv2.LUT(hsv, lut).reshape(T, H, W, 3)
        ranges = [0, bins[0], 0, bins[1], 0, bins[2]]
        for t in range(T):
            hist[t] = cv2.calcHist(
                [quantised[t]], [0, 1, 2], None, list(bins), ranges
            ).ravel()
    hist /= H * W
    return hist.reshape(T, -1)


@functools.lru_cache(maxsize=2)
def _lbp_mapping(mapping):
    """(256, n_labels) 0/1 matrix from 8-bit LBP codes to labels."""
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)) & 1
    transitions = np.sum(bits != np.roll(bits, 1, axis=1), axis=1)
    uniform = transitions <= 2
    if mapping == "uniform":
        # Uniform codes keep their own label, in increasing code order; all
        # others share the last label.
        labels = np.full(256, 58)
        labels[uniform] = np.arange(58)
        n = 59
    elif mapping == "rotation_invariant":
        # Uniform codes are labelled by their number of ones (0 to 8).
        labels = np.where(uniform, bits.sum(axis=1), 9)
        n = 10
    else:
        raise ValueError(
            f"mapping must be 'uniform' or 'rotation_invariant'; got {mapping!r}."
        )
    matrix = np.zeros((256, n), np.float32)
    matrix[codes, labels] = 1.0
    matrix.flags.writeable = False
    return matrix


def lbp_histograms(frames, *, mapping="uniform"):
    """Histograms of local binary patterns (Ojala et al. 2002), one per frame.

    Each interior pixel ``c`` of the grey frame gets the 8-bit code
    ``sum_k [g_k >= g_c] 2^k`` of its 8 neighbours (radius 1, square
    neighbourhood; bit 0 the east neighbour, then counter-clockwise). Codes
    map to labels:

    * ``"uniform"`` (LBP u2): the 58 codes with at most two 0/1 transitions
      around the circle each have a label, in increasing code order, and all
      other codes share label 58 (59 labels);
    * ``"rotation_invariant"`` (LBP riu2): uniform codes are labelled by their
      number of ones, 0 to 8, others 9 (10 labels).

    A flat patch gives code 255 (all neighbours equal): label 57, resp. 8.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width[, 3]), uint8
        RGB (converted with :func:`grey_frames`) or grey.
    mapping : {"uniform", "rotation_invariant"}, default="uniform"

    Returns
    -------
    hist : ndarray of shape (n_frames, 59 or 10), float32
        Fractions of the ``(height - 2) * (width - 2)`` interior pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import lbp_histograms
    >>> flat = np.full((2, 16, 16), 128, np.uint8)
    >>> lbp_histograms(flat).argmax(axis=1)
    array([57, 57])
    """
    matrix = _lbp_mapping(mapping)
    grey = grey_frames(_check_stack(frames, min_size=3))
    T, H, W = grey.shape
    # The stack as one tall image: rows where two frames meet get codes that
    # mix them, and are dropped with every frame's outer rows.
    flat = grey.reshape(T * H, W)
    centre = flat[1:-1, 1:-1]
    code = np.zeros((T * H, W - 2), np.uint8)
    inner = code[1:-1]
    for k, (dy, dx) in enumerate(_LBP_OFFSETS):
        neighbour = flat[1 + dy : T * H - 1 + dy, 1 + dx : W - 1 + dx]
        bit = cv2.compare(neighbour, centre, cv2.CMP_GE)  # 255 or 0
        cv2.bitwise_or(inner, cv2.bitwise_and(bit, 1 << k), dst=inner)
    code = code.reshape(T, H, W - 2)[:, 1:-1]
    counts = np.empty((T, 256), np.float32)
    # One calcHist per frame beats one np.bincount over the stack with frame
    # offsets (1.0 against 2.6 ms for 72 frames of 160x120).
    for t in range(T):
        counts[t] = cv2.calcHist([code[t]], [0], None, [256], [0, 256])[:, 0]
    hist = B.matmul(counts, matrix, np)
    hist /= (H - 2) * (W - 2)
    return hist


# ----------------------------------------------------------------------------
# Inter-frame descriptors
# ----------------------------------------------------------------------------


def optical_flow(frames):
    """Dense optical flow between adjacent frames (DIS, ULTRAFAST preset).

    Dense Inverse Search (Kroeger et al. 2016) as OpenCV implements it,
    with the ULTRAFAST preset (patches of 8 pixels, finest pyramid scale 2,
    no variational refinement): about 0.13 ms per pair at 160x120 on one
    core, where Farneback takes 15 times as long for the same use. Runs on as
    many threads as ``cv2.setNumThreads`` allows.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width[, 3]), uint8
        RGB (converted with :func:`grey_frames`) or grey; at least 2 frames.

    Returns
    -------
    flow : ndarray of shape (n_frames - 1, height, width, 2), float32
        ``flow[t, y, x] = (dx, dy)``, in pixels per frame: the point at
        ``(x, y)`` in ``frames[t]`` is at ``(x + dx, y + dy)`` in
        ``frames[t + 1]`` (x to the right, y down).
    """
    grey = grey_frames(_check_stack(frames, min_frames=2))
    T, H, W = grey.shape
    if max(H, W) < 12:
        raise ValueError(
            f"DIS optical flow needs frames at least 12 pixels wide or high; got "
            f"{W}x{H}."
        )
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    flow = np.empty((T - 1, H, W, 2), np.float32)
    for t in range(T - 1):
        flow[t] = dis.calc(grey[t], grey[t + 1], None)
    return flow


@functools.lru_cache(maxsize=8)
def _flow_cell_index(H, W, grid, bins):
    """Index of the first bin of each pixel's grid cell, and pixels per cell."""
    gy, gx = grid
    rows = np.arange(H) * gy // H
    cols = np.arange(W) * gx // W
    cell = rows[:, None] * gx + cols[None, :]
    counts = np.bincount(cell.ravel(), minlength=gy * gx)
    index = (cell * bins).astype(np.intp)
    index.flags.writeable = False
    return index, counts


def optical_flow_histograms(frames=None, *, flow=None, bins=8, grid=(1, 1)):
    """Magnitude-weighted histograms of optical flow orientation, per pair.

    The flow vector ``(dx, dy)`` of each pixel has magnitude
    ``m = sqrt(dx^2 + dy^2)`` and angle ``a = arctan2(dy, dx)`` (image
    coordinates: 0 is motion to the right, ``pi / 2`` motion down). Bin ``k``
    is centred on ``a = 2 pi k / bins`` (bin 0 right, bin ``bins / 4`` down,
    bin ``bins / 2`` left) and each pixel adds ``m`` to its nearest bin. The
    frame is cut into a ``grid = (rows, cols)`` of near-equal cells, and each
    cell's histogram is divided by its pixel count::

        hist[t, i, j, k] = sum_{p in cell (i, j), bin(a_p) = k} m_p / |cell (i, j)|

    so that ``hist[t, i, j].sum()`` is the mean flow speed in the cell, in
    pixels per frame: faster motion, larger values; no motion, zeros.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width[, 3]), uint8, optional
        Frames; the flow is computed with :func:`optical_flow`.
    flow : ndarray of shape (n_pairs, height, width, 2), optional
        Precomputed flow (``(dx, dy)`` per pixel, as :func:`optical_flow`
        gives it); takes precedence over ``frames``.
    bins : int > 1, default=8
        Orientation bins over the full circle.
    grid : (int, int), default=(1, 1)
        Cell rows and columns.

    Returns
    -------
    hist : ndarray of shape (n_pairs, rows * cols * bins), float32
        ``hist[t].reshape(rows, cols, bins)``; ``n_pairs = n_frames - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import optical_flow_histograms
    >>> flow = np.zeros((1, 4, 4, 2), np.float32)
    >>> flow[..., 1] = 2.0  # everything moves 2 pixels down
    >>> optical_flow_histograms(flow=flow, bins=4)
    array([[0., 2., 0., 0.]], dtype=float32)
    """
    if flow is None:
        if frames is None:
            raise ValueError("Pass frames or a precomputed flow.")
        flow = optical_flow(frames)
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(
            f"flow must have shape (n_pairs, height, width, 2); got shape {flow.shape}."
        )
    bins = int(bins)
    gy, gx = (int(g) for g in grid)
    T, H, W, _ = flow.shape
    if bins < 2 or gy < 1 or gx < 1 or gy > H or gx > W:
        raise ValueError(
            f"bins must be >= 2 and grid (rows, cols) within the {H}x{W} flow; "
            f"got bins={bins}, grid={tuple(grid)}."
        )
    dx, dy = cv2.split(np.ascontiguousarray(flow).reshape(T * H, W, 2))
    # Nearest bin centre: floor(a bins / 2 pi + 1/2), shifted by `bins` so
    # that it is positive (a in (-pi, pi]), folded onto [0, bins).
    pos = np.arctan2(dy, dx)
    pos *= np.float32(bins / (2 * np.pi))
    pos += np.float32(bins + 0.5)
    mag = _magnitude_(dx, dy)
    nearest, _ = _floor_mod(pos, bins, 2 * bins)
    cell, counts = _flow_cell_index(H, W, (gy, gx), bins)
    n = gy * gx * bins
    index = cell + (np.arange(T, dtype=np.intp) * n)[:, None, None]
    index += nearest.reshape(T, H, W)
    hist = np.bincount(index.ravel(), weights=mag.ravel(), minlength=T * n)
    hist = hist.reshape(T, gy * gx, bins) / counts[:, None]
    return hist.reshape(T, n).astype(np.float32)


def frame_distances(descriptors, *, metric="l1"):
    """Distances between the descriptors of adjacent frames.

    ``d[t] = sum_i |x[t + 1, i] - x[t, i]|`` (``"l1"``, for histograms: twice
    the fraction of mass that moved, in [0, 2] for normalised histograms) or
    ``d[t] = sqrt(sum_i (x[t + 1, i] - x[t, i])^2)`` (``"l2"``, for HOG).

    Parameters
    ----------
    descriptors : ndarray of shape (n_frames, n_features)
        Per-frame descriptors, time first.
    metric : {"l1", "l2"}, default="l1"

    Returns
    -------
    d : ndarray of shape (n_frames - 1,), float32
        Zero for identical adjacent frames.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import frame_distances
    >>> frame_distances(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    array([2., 0.], dtype=float32)
    """
    x = np.asarray(descriptors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(
            f"descriptors must have shape (n_frames, n_features); got {x.shape}."
        )
    step = np.diff(x, axis=0)
    if metric == "l1":
        d = np.sum(np.abs(step), axis=1)
    elif metric == "l2":
        d = np.sqrt(np.sum(step * step, axis=1))
    else:
        raise ValueError(f"metric must be 'l1' or 'l2'; got {metric!r}.")
    return d.astype(np.float32)


# ----------------------------------------------------------------------------
# Segment features
# ----------------------------------------------------------------------------

# Blocks of a segment's feature vector, in column order: (name, per-frame
# descriptor or distance, which it is over).
_FRAME_BLOCKS = ("hog", "color_hist", "lbp_hist", "flow_hist")
_DISTANCE_BLOCKS = (
    ("hog_dist", "hog", "l2"),
    ("color_dist", "color_hist", "l1"),
    ("lbp_dist", "lbp_hist", "l1"),
)


def _int_tuple(value, n, name, what):
    """``value`` as a tuple of ``n`` ints >= 1, or a ValueError."""
    try:
        out = tuple(value)
    except TypeError:
        out = ()
    if len(out) != n or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in out
    ):
        raise ValueError(f"{name} must be {n} ints >= 1 ({what}); got {value!r}.")
    return tuple(int(v) for v in out)


def _analysis_size(size, scale):
    """(width, height) of the frames every descriptor is computed on."""
    width, height = size
    return max(3, round(width * scale)), max(3, round(height * scale))


def _resolve(
    size, scale, hog_cell, hog_block, hog_bins, color_bins, lbp, flow_bins, flow_grid
):
    """Check the parameters; return the analysis size, the dimension of each
    per-frame block and the keyword arguments of each descriptor function."""
    size = _int_tuple(size, 2, "size", "width, height")
    if min(size) < 3:
        raise ValueError(f"size must be at least (3, 3) pixels; got {size}.")
    if not (isinstance(scale, Real) and 0 < scale <= 1):
        raise ValueError(f"scale must be a float in (0, 1]; got {scale!r}.")
    (hog_cell, hog_block), (hog_bins, flow_bins) = (
        _int_tuple((hog_cell, hog_block), 2, "hog_cell and hog_block", "pixels, cells"),
        _int_tuple((hog_bins, flow_bins), 2, "hog_bins and flow_bins", "bins"),
    )
    if hog_bins < 2 or flow_bins < 2:
        raise ValueError(
            f"hog_bins and flow_bins must be >= 2; got {hog_bins} and {flow_bins}."
        )
    color_bins = _int_tuple(color_bins, 3, "color_bins", "hue, saturation, value")
    if any(b > r for b, r in zip(color_bins, _HSV_RANGES)):
        raise ValueError(
            f"color_bins must be at most (180, 256, 256); got {color_bins}."
        )
    flow_grid = _int_tuple(flow_grid, 2, "flow_grid", "rows, cols")
    aw, ah = _analysis_size(size, scale)
    if max(aw, ah) < 12:
        raise ValueError(
            f"size={size} at scale={scale} gives {aw}x{ah} frames; optical flow "
            "needs them at least 12 pixels wide or high."
        )
    cell = max(1, round(hog_cell * aw / size[0]))
    if ah // cell < hog_block or aw // cell < hog_block:
        raise ValueError(
            f"Frames of {size[0]}x{size[1]} pixels hold {aw // cell}x{ah // cell} "
            f"HOG cells of {hog_cell} pixels, fewer than one block of "
            f"{hog_block}x{hog_block} cells; lower hog_cell or hog_block."
        )
    # The flow histograms see every second flow vector (see _frame_descriptors).
    fh, fw = (ah + 1) // 2, (aw + 1) // 2
    if flow_grid[0] > fh or flow_grid[1] > fw:
        raise ValueError(
            f"flow_grid={flow_grid} has more cells than the {fh}x{fw} flow "
            "vectors it is computed from; use a coarser grid or a larger size."
        )
    dims = {
        "hog": hog_dimension(
            height=ah, width=aw, cell=cell, block=hog_block, bins=hog_bins
        ),
        "color_hist": int(np.prod(color_bins)),
        "lbp_hist": _lbp_mapping(lbp).shape[1],
        "flow_hist": flow_bins * flow_grid[0] * flow_grid[1],
    }
    settings = {
        "hog": dict(cell=cell, block=hog_block, bins=hog_bins),
        "color_hist": dict(bins=color_bins),
        "lbp_hist": dict(mapping=lbp),
        "flow_hist": dict(bins=flow_bins, grid=flow_grid),
    }
    return (aw, ah), dims, settings


_DEFAULTS = dict(
    size=(320, 240),
    scale=0.5,
    hog_cell=40,
    hog_block=2,
    hog_bins=9,
    color_bins=(8, 4, 4),
    lbp="uniform",
    flow_bins=8,
    flow_grid=(3, 3),
)


def feature_names(**params):
    """Names of the columns of :func:`segment_features`, in order.

    Blocks of per-frame descriptors (``hog``, ``color_hist``, ``lbp_hist``,
    ``flow_hist``) give ``{block}_mean_{i}`` then ``{block}_std_{i}``;
    distances give ``{block}_mean`` and ``{block}_std`` (``hog_dist``,
    ``color_dist``, ``lbp_dist``).

    Parameters
    ----------
    **params
        The keyword arguments of :func:`segment_features` (``size`` is the
        ``(width, height)`` of the frames).

    Returns
    -------
    names : ndarray of shape (n_features,), object
    """
    _, dims, _ = _resolve(**{**_DEFAULTS, **params})
    names = []
    for block in _FRAME_BLOCKS:
        for stat in ("mean", "std"):
            names.extend(f"{block}_{stat}_{i}" for i in range(dims[block]))
    for block, _, _ in _DISTANCE_BLOCKS:
        names.extend((f"{block}_mean", f"{block}_std"))
    return np.asarray(names, dtype=object)


def _frame_descriptors(small, settings, unit, given):
    """Per-frame and per-pair descriptors of analysis-size frames ``small``;
    those in ``given`` (not None) are taken as they are."""
    grey = None if small is None else grey_frames(small)

    def flow_hist():
        # Every second flow vector in x and y: DIS (ULTRAFAST) estimates the
        # flow at a quarter of the resolution and upsamples it, so the others
        # change the histograms by about 2% (on real video) at 4 times the cost.
        flow = optical_flow(grey)[:, ::2, ::2]
        hist = optical_flow_histograms(flow=flow, **settings["flow_hist"])
        hist *= unit  # pixels per frame of the working size
        return hist

    compute = {
        "hog": lambda: hog_descriptors(grey, **settings["hog"]),
        "color_hist": lambda: color_histograms(small, **settings["color_hist"]),
        "lbp_hist": lambda: lbp_histograms(grey, **settings["lbp_hist"]),
        "flow_hist": flow_hist,
    }
    out = {}
    for block in _FRAME_BLOCKS:
        if given.get(block) is not None:
            out[block] = np.asarray(given[block])
        elif small is None:
            raise ValueError(f"Pass frames, or a precomputed {block}.")
        else:
            out[block] = compute[block]()
    return out


def _mean_std(x):
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([np.mean(x, axis=0).ravel(), np.std(x, axis=0).ravel()])


def segment_features(
    frames=None,
    *,
    size=None,
    scale=0.5,
    hog_cell=40,
    hog_block=2,
    hog_bins=9,
    color_bins=(8, 4, 4),
    lbp="uniform",
    flow_bins=8,
    flow_grid=(3, 3),
    hog=None,
    color_hist=None,
    lbp_hist=None,
    flow_hist=None,
):
    """The feature vector of one segment: mean and std of every descriptor.

    The frames are shrunk by ``scale`` (:func:`resize_frames`, pixel-area
    averaging), then described per frame by :func:`hog_descriptors`,
    :func:`color_histograms` and :func:`lbp_histograms`, and per pair of
    adjacent frames by :func:`optical_flow_histograms` and the
    :func:`frame_distances` of the three per-frame descriptors (L2 for HOG,
    L1 for the histograms). Each is summarised by its mean and (population)
    standard deviation over time; the column order is
    :func:`feature_names`'.

    Parameters
    ----------
    frames : ndarray of shape (n_frames, height, width, 3), uint8 RGB
        One segment's frames (72 for 6 s at 12 fps), at least 2. May be
        omitted when all four per-frame descriptors are given.
    size : (int, int), optional
        ``(width, height)`` the sizes below refer to; the frames' own size by
        default. Frames of another size are resized.
    scale : float in (0, 1], default=0.5
        Every descriptor is computed on the frames shrunk by this factor;
        0.5 turns 320x240 into 160x120.
    hog_cell : int, default=40
        HOG cell side in pixels of ``size`` (8x6 cells at 320x240).
    hog_block : int, default=2
        HOG block side in cells.
    hog_bins : int, default=9
        HOG orientation bins.
    color_bins : (int, int, int), default=(8, 4, 4)
        Hue, saturation and value bins of the colour histogram.
    lbp : {"uniform", "rotation_invariant"}, default="uniform"
        LBP label mapping (59 or 10 labels).
    flow_bins : int, default=8
        Flow orientation bins.
    flow_grid : (int, int), default=(3, 3)
        Rows and columns of the flow histogram cells.
    hog, color_hist, lbp_hist : ndarray of shape (n_frames, d), optional
        Precomputed per-frame descriptors (at the analysis size); computed
        from ``frames`` when omitted.
    flow_hist : ndarray of shape (n_frames - 1, d), optional
        Precomputed flow histograms, in pixels per frame of ``size``.

    Returns
    -------
    features : ndarray of shape (n_features,), float32
        The flow histograms are in pixels per frame of ``size`` (the flow of
        the shrunk frames times ``1 / scale``).

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.video import feature_names, segment_features
    >>> frames = np.random.default_rng(0).integers(0, 256, (4, 240, 320, 3), np.uint8)
    >>> x = segment_features(frames)
    >>> x.shape, x.dtype, len(feature_names())
    ((3044,), dtype('float32'), 3044)
    """
    if frames is not None:
        frames = _check_stack(frames, min_frames=2, grey_ok=False)
        if size is None:
            size = (frames.shape[2], frames.shape[1])
    elif size is None:
        size = _DEFAULTS["size"]
    analysis, dims, settings = _resolve(
        size,
        scale,
        hog_cell,
        hog_block,
        hog_bins,
        color_bins,
        lbp,
        flow_bins,
        flow_grid,
    )
    small = None if frames is None else resize_frames(frames, size=analysis)
    unit = size[0] / analysis[0]  # working-frame pixels per analysis pixel
    given = dict(hog=hog, color_hist=color_hist, lbp_hist=lbp_hist, flow_hist=flow_hist)
    d = _frame_descriptors(small, settings, unit, given)
    for block in _FRAME_BLOCKS:
        x = d[block]
        if x.ndim != 2 or x.shape[1] != dims[block]:
            raise ValueError(
                f"{block} must have shape (n, {dims[block]}) for these "
                f"parameters; got {x.shape}."
            )
    parts = [_mean_std(d[block]) for block in _FRAME_BLOCKS]
    for _, block, metric in _DISTANCE_BLOCKS:
        parts.append(_mean_std(frame_distances(d[block], metric=metric)))
    return np.concatenate(parts).astype(np.float32)


def _versions():
    """Versions of the libraries that the feature values depend on.

    Save them with extracted features. The DIS flow, the grey and HSV
    conversions and the resizing come from OpenCV, the arctangents of the HOG
    and flow histograms from NumPy; their results may change between
    releases (the binning and counting are exact integer arithmetic).
    """
    from .. import __version__

    return {"skmv": __version__, "opencv": cv2.__version__, "numpy": np.__version__}


# ----------------------------------------------------------------------------
# Estimator
# ----------------------------------------------------------------------------


def _content_row(frames, index, params):
    """One segment's row from decoded frames; errors name the segment."""
    if not isinstance(frames, (np.ndarray, list, tuple)):
        raise ValueError(
            f"Segment {index} is a {type(frames).__name__}, not an array of frames; "
            "input='content' takes decoded (n_frames, height, width, 3) uint8 "
            "arrays (input='segments' takes Segment objects)."
        )
    frames = _check_stack(frames, name=f"Segment {index}", min_frames=2, grey_ok=False)
    return _row(frames, params)


def _row(frames, params):
    """The row of checked frames; ``params`` are segment_features' arguments."""
    params = dict(params)
    size = params.pop("size")
    # One resize straight to the analysis size: the same pixels as resizing
    # to `size` first, at a fraction of the cost.
    small = resize_frames(frames, size=_analysis_size(size, params["scale"]))
    return segment_features(small, size=size, **params)


class VideoFeaturizer(TransformerMixin, BaseEstimator):
    """Video features of music-video segments: one row per 6-second segment.

    Per frame: a HOG, a joint HSV colour histogram and a uniform LBP
    histogram; between adjacent frames: a magnitude-weighted histogram of
    oriented optical flow (DIS) on a grid of cells, and the distances of the
    HOG (L2), colour (L1) and LBP (L1) descriptors. Each is summarised by its
    mean and standard deviation over the segment's frames (Xu, Wang and Tang
    2014, section 2.2). The computation is :func:`segment_features`.

    **Default dimension: 3044** = 2 (mean, std) x (1260 HOG + 128 colour
    + 59 LBP + 72 flow) + 2 x 3 distances, where

    * HOG: 8x6 cells of 40x40 pixels (at 320x240), 7x5 blocks of 2x2 cells,
      9 orientation bins: 7 * 5 * 4 * 9 = 1260 per frame;
    * colour: 8 hue x 4 saturation x 4 value bins = 128;
    * LBP: 58 uniform patterns + 1 = 59;
    * flow: 8 directions in each cell of a 3x3 grid = 72 per frame pair.

    The paper had 7443 dimensions. The defaults are chosen for information
    per cost: every descriptor is computed at half resolution (``scale=0.5``,
    160x120), which quarters the cost and loses little at cells this coarse;
    HOG cells of 40 pixels keep the layout of a scene (8-pixel cells would
    give 40716 values per frame); the flow, the dearest descriptor, is split
    over a 3x3 grid, which tells camera motion (every cell alike) from motion
    of the subject (centre cells) for 128 more columns and no more time.
    A 72-frame 320x240 segment (6 s at 12 fps) takes about 40 ms on one
    core (AMD EPYC, OpenCV 4.14, NumPy 2.4): HOG 11, DIS flow 10, colour 5,
    flow histograms 5, resizing 3.5, LBP 2 and the rest 2.

    Parameters
    ----------
    input : {"segments", "content"}, default="segments"
        What ``X`` holds. ``"segments"``: a list of :class:`skmv.io.Segment`,
        decoded at ``fps`` and ``size``. ``"content"``: decoded frames, one
        uint8 RGB array of shape ``(n_frames, height, width, 3)`` per segment
        (a list, or one 5-D array), already at ``fps``; frames of another
        size than ``size`` are resized (pixel-area averaging).
    fps : float > 0, default=12
        Frame rate segments are decoded at (the paper's 12). Flow values are
        in pixels per frame at this rate.
    size : (int, int), default=(320, 240)
        ``(width, height)`` of the working frames (the paper's 320x240).
    scale : float in (0, 1], default=0.5
        Descriptors are computed on the working frames shrunk by this factor.
    hog_cell : int > 0, default=40
        HOG cell side, in pixels of ``size``.
    hog_block : int > 0, default=2
        HOG block side, in cells (blocks one cell apart).
    hog_bins : int > 1, default=9
        HOG orientation bins over [0, pi).
    color_bins : (int, int, int), default=(8, 4, 4)
        Hue, saturation and value bins of the joint colour histogram.
    lbp : {"uniform", "rotation_invariant"}, default="uniform"
        LBP labels: 59 (u2) or 10 (riu2).
    flow_bins : int > 1, default=8
        Flow directions over the full circle (bin 0 is motion to the right,
        bin ``flow_bins // 4`` motion down).
    flow_grid : (int, int), default=(3, 3)
        Rows and columns of the cells that get their own flow histogram.
    n_jobs : int or None, default=None
        Segments (``"content"``) or files (``"segments"``) computed in
        parallel, through joblib.
    memory : str, joblib.Memory or None, default=None
        Caches each file's rows (``"segments"``) or each segment's row
        (``"content"``, keyed by a hash of the frames, which costs about half
        as much as computing the row) on disk; None caches nothing.
    on_error : {"raise", "skip"}, default="raise"
        What a file that cannot be decoded does (``input="segments"``):
        raise a :class:`~skmv.exceptions.MediaError`, or be skipped with a
        warning, its rows NaN. Bad arrays (``"content"``) always raise.
    missing : {"error", "nan"}, default="error"
        What a segment without video does: a piece of a song, whose
        ``modalities`` lack ``"video"`` (see :func:`skmv.io.segment_media`),
        or whose file turns out to have no video stream. ``"error"``: its
        file raises a :class:`~skmv.exceptions.MissingStreamError` (a
        MediaError naming the file; ``on_error="skip"`` skips it).
        ``"nan"``: its row is NaN, the data model's missing modality; it is
        not decoded and not counted in ``skipped_``. With
        ``input="content"``, a None item is a segment without video.
    verbose : int, default=0
        joblib's progress messages.

    Attributes
    ----------
    n_features_out_ : int
        Columns of the output.
    feature_names_out_ : ndarray of shape (``n_features_out_``,), object
        Their names (``hog_mean_17``, ``flow_hist_std_3``,
        ``color_dist_mean``, ...).
    skipped_ : list of SkippedFile
        After a ``transform`` of segments: the files it skipped under
        ``on_error="skip"``, each with its reason; their rows are NaN.
        Segments without video under ``missing="nan"`` are not in it.

    See Also
    --------
    segment_features : The computation for one segment.
    skmv.features.AudioFeaturizer : The music side.

    Notes
    -----
    Stateless: ``fit`` only checks the parameters, and ``transform`` works
    without it. Feature values depend on the OpenCV release (DIS flow, HSV
    conversion, resizing); save ``skmv.features.video._versions()`` with
    them. OpenCV's own threads are whatever ``cv2.setNumThreads`` allows; the
    segment batch loop sets one per worker.

    References
    ----------
    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    N. Dalal, B. Triggs, "Histograms of oriented gradients for human
    detection", CVPR 2005.

    T. Ojala, M. Pietikainen, T. Maenpaa, "Multiresolution gray-scale and
    rotation invariant texture classification with local binary patterns",
    IEEE TPAMI 24(7), 2002.

    T. Kroeger, R. Timofte, D. Dai, L. Van Gool, "Fast optical flow using
    dense inverse search", ECCV 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features import VideoFeaturizer
    >>> rng = np.random.default_rng(0)
    >>> clips = [rng.integers(0, 256, (6, 240, 320, 3), np.uint8) for _ in range(2)]
    >>> vf = VideoFeaturizer(input="content")
    >>> X = vf.fit_transform(clips)
    >>> X.shape, X.dtype
    ((2, 3044), dtype('float32'))
    >>> vf.get_feature_names_out()[[0, -1]]
    array(['hog_mean_0', 'lbp_dist_std'], dtype=object)

    A segment without video (None here; a Segment of a song with
    ``input="segments"``) gives a row of NaN with ``missing="nan"``:

    >>> X = VideoFeaturizer(input="content", missing="nan").fit_transform(
    ...     [clips[0], None])
    >>> np.isfinite(X[0]).all(), np.isnan(X[1]).all()
    (np.True_, np.True_)
    """

    _parameter_constraints: dict = {
        "input": [StrOptions({"segments", "content"})],
        "fps": [Interval(Real, 0, None, closed="neither")],
        "size": [tuple, list],
        "scale": [Interval(Real, 0, 1, closed="right")],
        "hog_cell": [Interval(Integral, 1, None, closed="left")],
        "hog_block": [Interval(Integral, 1, None, closed="left")],
        "hog_bins": [Interval(Integral, 2, None, closed="left")],
        "color_bins": [tuple, list],
        "lbp": [StrOptions({"uniform", "rotation_invariant"})],
        "flow_bins": [Interval(Integral, 2, None, closed="left")],
        "flow_grid": [tuple, list],
        "n_jobs": [Integral, None],
        "memory": [None, str, HasMethods(["cache"])],
        "on_error": [StrOptions({"raise", "skip"})],
        "missing": [StrOptions({"error", "nan"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        input="segments",
        *,
        fps=12,
        size=(320, 240),
        scale=0.5,
        hog_cell=40,
        hog_block=2,
        hog_bins=9,
        color_bins=(8, 4, 4),
        lbp="uniform",
        flow_bins=8,
        flow_grid=(3, 3),
        n_jobs=None,
        memory=None,
        on_error="raise",
        missing="error",
        verbose=0,
    ):
        self.input = input
        self.fps = fps
        self.size = size
        self.scale = scale
        self.hog_cell = hog_cell
        self.hog_block = hog_block
        self.hog_bins = hog_bins
        self.color_bins = color_bins
        self.lbp = lbp
        self.flow_bins = flow_bins
        self.flow_grid = flow_grid
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error
        self.missing = missing
        self.verbose = verbose

    def _feature_params(self):
        """The keyword arguments of :func:`segment_features`, checked."""
        params = dict(
            size=tuple(self.size),
            scale=self.scale,
            hog_cell=self.hog_cell,
            hog_block=self.hog_block,
            hog_bins=self.hog_bins,
            color_bins=tuple(self.color_bins),
            lbp=self.lbp,
            flow_bins=self.flow_bins,
            flow_grid=tuple(self.flow_grid),
        )
        _resolve(**params)
        return params

    @property
    def _n_features_out(self):
        """Columns of the output, from the parameters alone (no fit needed)."""
        return len(feature_names(**self._feature_params()))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Check the parameters and record the output's columns.

        Parameters
        ----------
        X : ignored
            The featurizer learns nothing from data.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self.feature_names_out_ = feature_names(**self._feature_params())
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, X):
        """Feature rows of the segments in ``X``.

        Parameters
        ----------
        X : list of Segment, or list of ndarray of shape (n_frames, height, width, 3)
            See ``input``.

        Returns
        -------
        X_new : ndarray of shape (n_segments, n_features_out_), float32
            Rows of segments without video are NaN (``missing="nan"``).
        """
        self._validate_params()
        self._feature_params()
        if self.input == "content":
            return self._transform_content(X)
        return self._transform_segments(X)

    def _transform_content(self, X):
        if isinstance(X, np.ndarray) and X.ndim != 5:
            raise ValueError(
                "X must be a list of (n_frames, height, width, 3) uint8 arrays, or "
                f"one array of shape (n_segments, n_frames, height, width, 3); got "
                f"an array of shape {X.shape}."
            )
        if not isinstance(X, np.ndarray):
            X = list(X)
        present = [index for index, frames in enumerate(X) if frames is not None]
        if len(present) < len(X) and self.missing == "error":
            index = next(i for i, frames in enumerate(X) if frames is None)
            raise ValueError(
                f"Segment {index} is None, a segment without video; "
                "missing='nan' makes its row NaN."
            )
        params = self._feature_params()
        compute = check_memory(self.memory).cache(_content_row, ignore=["index"])
        rows = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(compute)(X[index], index, params) for index in present
        )
        out = np.full((len(X), self._n_features_out), np.nan, np.float32)
        if rows:
            out[present] = np.stack(rows)
        return out

    def _transform_segments(self, X):
        rows, self.skipped_ = featurize_segments(self, X, kind="video")
        return rows

    def _featurize(self, frames):
        """The row of one decoded segment, ``(n_frames, height, width, 3)`` uint8.

        Uses the parameters only (no fitted state), so that the segment batch
        loop may call it on an unfitted copy.

        Returns
        -------
        row : ndarray of shape (n_features_out_,), float32
        """
        frames = _check_stack(frames, name="segment", min_frames=2, grey_ok=False)
        return _row(frames, self._feature_params())

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : None
            Ignored (the input is media, not columns).

        Returns
        -------
        feature_names_out : ndarray of shape (n_features_out_,), object
            ``hog_mean_{i}``, ``hog_std_{i}``, ``color_hist_mean_{i}``, ...,
            ``flow_hist_std_{i}``, then ``hog_dist_mean``, ``hog_dist_std``,
            ``color_dist_mean``, ..., ``lbp_dist_std``; ``i`` indexes the
            flattened per-frame descriptor (see the functions that make them).
        """
        return feature_names(**self._feature_params())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags
