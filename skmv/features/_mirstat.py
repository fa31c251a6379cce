"""Sliding-window pooling and MIRtoolbox's ``mirstat`` statistics of curves.

Private home of :func:`skmv.features.audio.pool_windows` and
:func:`skmv.features.audio.mirstat`, the two steps that turn a feature curve
(one value per analysis frame) into a few numbers per segment (Xu, Wang and
Tang 2014, section 2.2). Both work along the last axis of an array of any
number of leading dimensions, so that all the curves of a segment are
summarised in one vectorised call.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .. import _backend as B

__all__ = ["POOLINGS", "STATISTICS", "mirstat", "pool_windows"]

#: Names of the four poolings, in the order of :func:`pool_windows`' axis.
POOLINGS = ("mean", "median", "max", "min")
#: Names of the six statistics, in the order of :func:`mirstat`'s last axis.
STATISTICS = ("mean", "std", "slope", "periodfreq", "periodamp", "periodentropy")

# A curve whose standard deviation is below this fraction of its largest
# magnitude is flat: what is left is rounding, and its slope and periodicity
# would be noise.
_FLAT = 1e-6
# MIRtoolbox adds this inside the logarithm of the period entropy.
_ENTROPY_EPS = 1e-12


def pool_windows(x, *, window, hop):
    """Mean, median, maximum and minimum of a curve in sliding windows.

    The pooling step of Xu, Wang and Tang (2014, section 2.2), which replaces
    each raw feature curve by four smoother ones. Windows are strided views
    of ``x`` (no copy is made before the reductions), as
    ``librosa.util.frame`` makes them.

    Parameters
    ----------
    x : np.ndarray [shape=(..., n_frames)]
        Curves, time last.
    window : int > 0 [scalar]
        Frames per window. A curve shorter than one window is pooled as one
        window covering all of it.
    hop : int > 0 [scalar]
        Frames between the starts of successive windows. Frames after the
        last whole window (fewer than ``hop``) are dropped.

    Returns
    -------
    pooled : np.ndarray [shape=(..., 4, n_windows)]
        ``pooled[..., k, j] == POOLINGS[k](x[..., j * hop : j * hop + window])``
        with ``POOLINGS = ("mean", "median", "max", "min")`` and
        ``n_windows = 1 + (n_frames - window) // hop``. Floating point, at
        least float32.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.features.audio import pool_windows
    >>> pool_windows(np.array([0.0, 1, 2, 3, 10]), window=3, hop=2).tolist()
    [[1.0, 5.0], [1.0, 3.0], [2.0, 10.0], [0.0, 2.0]]
    """
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"pool_windows needs at least one frame, got shape {x.shape}")
    if int(window) < 1 or int(hop) < 1:
        raise ValueError(f"window and hop must be >= 1, got {window} and {hop}")
    dtype = np.result_type(x.dtype, np.float32)
    window = min(int(window), x.shape[-1])
    frames = np.lib.stride_tricks.sliding_window_view(x, window, axis=-1)
    frames = frames[..., :: int(hop), :]
    out = np.empty(x.shape[:-1] + (len(POOLINGS), frames.shape[-2]), dtype=dtype)
    out[..., 0, :] = frames.mean(axis=-1, dtype=dtype)
    out[..., 1, :] = np.median(frames, axis=-1)
    out[..., 2, :] = frames.max(axis=-1)
    out[..., 3, :] = frames.min(axis=-1)
    return out


def mirstat(x, *, frame_rate, center=True):
    """Statistics of curves as MIRtoolbox's ``mirstat`` defines them.

    For each curve ``x[..., :]`` of ``n`` frames sampled at ``frame_rate``
    (Lartillot and Toiviainen 2007, ``mirstat.m``):

    * **mean** and **std**: ``std`` with the ``n - 1`` normalisation of
      MATLAB's ``std``.
    * **slope**: the least-squares slope through the origin of the
      standardised curve ``z = (x - mean) / std`` against normalised time
      ``t = linspace(0, 1, n)``: ``slope = (z . t) / (t . t)`` (MATLAB's
      ``z / t``). Unitless; positive for a rising curve.
    * **periodfreq**, **periodamp**: from the autocorrelation normalised to 1
      at lag 0, ``r[k] = sum_i x[i] x[i + k] / sum_i x[i]^2`` (MATLAB's
      ``xcorr(x, 'coeff')``, lags ``0 .. n - 1``), the first descending slope
      (lags up to and including the first local minimum) is set to zero and
      the highest remaining value is the main periodicity: ``periodamp`` is
      its height, ``periodfreq = frame_rate / k`` its frequency in Hz. As
      in ``mirstat.m``, a period of only a few frames can lose to twice its
      length, whose sampled peak comes closer to 1.
    * **periodentropy**: the Shannon entropy of the autocorrelation made a
      distribution, ``p = (r - min r) / sum(r - min r)``, divided by
      ``log(n)`` so that it lies in [0, 1]:
      ``-sum(p * log(p + 1e-12)) / log(n)``.

    Where this differs from ``mirstat.m``, on purpose:

    * ``center=True`` (the default) removes the mean before the
      autocorrelation. MATLAB's ``xcorr`` does not, and the triangle that a
      curve's mean leaves in its autocorrelation then hides the periodicity
      of any curve whose mean is large against its swing (brightness, key
      clarity, tempo). ``center=False`` gives ``mirstat.m``'s autocorrelation.
    * The lag of the main periodicity is refined by fitting a parabola
      through it and its two neighbours (clipped to half a lag), so that
      ``periodfreq`` varies continuously instead of taking only the values
      ``frame_rate / k``; ``periodamp`` stays the sampled height.
    * Conventions where ``mirstat.m`` gives NaN, so that every output is
      finite: a curve of one frame has ``std = slope = 0`` and no
      periodicity; a flat curve (std below 1e-6 of its largest magnitude,
      that is rounding) has ``slope = 0`` and no periodicity; a curve whose
      autocorrelation never rises again (no local minimum) or stays below
      zero after its first minimum has no periodicity. "No periodicity" is
      ``periodfreq = periodamp = 0``; the entropy of a flat curve (or one
      frame) is 0.

    Parameters
    ----------
    x : np.ndarray [shape=(..., n_frames)]
        Curves, time last.
    frame_rate : float > 0 [scalar]
        Frames per second of ``x``, in Hz.
    center : bool
        Autocorrelate ``x - mean`` (True) or ``x`` itself (False, as
        ``mirstat.m`` does).

    Returns
    -------
    stats : np.ndarray [shape=(..., 6)], float64
        ``stats[..., k]`` is ``STATISTICS[k]`` of ``x[..., :]``, with
        ``STATISTICS = ("mean", "std", "slope", "periodfreq", "periodamp",
        "periodentropy")``.

    References
    ----------
    O. Lartillot and P. Toiviainen, "A Matlab toolbox for musical feature
    extraction from audio", DAFx 2007.

    Examples
    --------
    A curve sampled at 10 Hz that swings twice a second:

    >>> import numpy as np
    >>> from skmv.features.audio import mirstat
    >>> t = np.arange(60) / 10.0
    >>> stats = mirstat(3.0 + np.sin(2 * np.pi * 2.0 * t), frame_rate=10.0)
    >>> print(np.round(stats[3], 2))  # periodfreq, Hz
    2.0
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"mirstat needs at least one frame, got shape {x.shape}")
    if not frame_rate > 0:
        raise ValueError(f"frame_rate must be > 0, got {frame_rate}")
    n = x.shape[-1]
    out = np.zeros(x.shape[:-1] + (len(STATISTICS),))
    mean = x.mean(axis=-1)
    out[..., 0] = mean
    if n < 2:
        return out
    dev = x - mean[..., None]
    std = np.sqrt(np.einsum("...i,...i->...", dev, dev) / (n - 1))
    out[..., 1] = std
    live = std > _FLAT * np.abs(x).max(axis=-1)

    t = np.linspace(0.0, 1.0, n)
    safe_std = np.where(live, std, 1.0)
    out[..., 2] = np.where(
        live, B.matmul(dev, t, np) / safe_std / B.matmul(t, t, np), 0.0
    )

    r = _autocorrelation(dev if center else x)
    out[..., 3], out[..., 4] = _main_period(r, frame_rate)
    out[..., 5] = _period_entropy(r)
    out[..., 3:] *= live[..., None]
    return out


def _autocorrelation(z):
    """``xcorr(z, 'coeff')`` at lags 0 .. n - 1, along the last axis, by FFT.

    Rows with zero energy give zeros.
    """
    n = z.shape[-1]
    n_fft = scipy.fft.next_fast_len(2 * n - 1, real=True)
    spec = scipy.fft.rfft(z, n_fft, axis=-1)
    r = scipy.fft.irfft(spec.real**2 + spec.imag**2, n_fft, axis=-1)[..., :n]
    r0 = r[..., :1]
    return np.divide(r, r0, out=np.zeros_like(r), where=r0 > 0)


def _main_period(r, frame_rate):
    """(frequency in Hz, amplitude) of the highest autocorrelation peak after
    the first descending slope, as ``mirstat.m`` finds it; (0, 0) if none."""
    n = r.shape[-1]
    rising = r[..., 1:] > r[..., :-1]
    first_min = rising.argmax(axis=-1)  # index of the first local minimum
    beyond = np.arange(n) > first_min[..., None]
    masked = np.where(beyond, r, 0.0)
    k = masked.argmax(axis=-1)
    amp = np.take_along_axis(masked, k[..., None], axis=-1)[..., 0]
    found = rising.any(axis=-1) & (k > first_min) & (amp > 0)

    # Parabola through (k - 1, k, k + 1) for a lag between samples.
    left = np.take_along_axis(r, np.maximum(k - 1, 0)[..., None], axis=-1)[..., 0]
    right = np.take_along_axis(r, np.minimum(k + 1, n - 1)[..., None], axis=-1)[..., 0]
    curv = left - 2.0 * amp + right
    inner = found & (k + 1 < n) & (curv < 0)
    shift = np.divide(0.5 * (left - right), curv, out=np.zeros_like(curv), where=inner)
    lag = k + np.clip(shift, -0.5, 0.5)
    freq = np.divide(frame_rate, lag, out=np.zeros_like(lag), where=found)
    return freq, np.where(found, amp, 0.0)


def _period_entropy(r):
    """Normalised entropy of ``r - min(r)`` made a distribution (0 if flat)."""
    n = r.shape[-1]
    p = r - r.min(axis=-1, keepdims=True)
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    return -(p * np.log(p + _ENTROPY_EPS)).sum(axis=-1) / np.log(n)
