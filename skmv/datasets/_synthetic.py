"""Paired modalities with a shared latent cause, for tests and examples."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_paired_modalities"]

# Spread of the class means in latent space, in units of the per-sample
# variation (which has unit variance): classes overlap a little, and the
# per-sample part still carries as much information as the class.
_CLASS_SEP = 1.0


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": ["array-like"],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_paired_modalities(
    n_samples=500,
    *,
    n_features=(40, 30),
    n_latent=6,
    n_classes=4,
    noise=0.5,
    shuffle=True,
    random_state=None,
):
    """Generate paired samples of modalities that share a latent cause.

    A toy stand-in for the music and the video of one music-video segment:
    each sample has a latent vector ``z``, its class mean plus a continuous
    per-sample part, and every modality sees ``z`` through its own random
    nonlinear map, with its own noise::

        z = mu[y] + e,                  e ~ N(0, I_{n_latent}),
                                        mu[k] ~ N(0, I_{n_latent})
        x_m = tanh(z A_m + t_m) + noise * eps_m,       eps_m ~ N(0, I)

    with ``A_m`` of shape ``(n_latent, n_features[m])``, entries
    ``N(0, 1 / n_latent)``, and offsets ``t_m ~ U(-1, 1)`` drawn afresh for
    each modality. The modalities thus share information about the class
    and about each sample: one predicts the other (nonlinearly), which is
    what a shared representation should find.

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples (rows).
    n_features : sequence of int, default=(40, 30)
        Number of features of each modality; its length is the number of
        modalities (at least one).
    n_latent : int, default=6
        Dimension of the shared latent vector ``z``.
    n_classes : int, default=4
        Number of classes; their sizes differ by at most one sample.
    noise : float, default=0.5
        Standard deviation of the independent Gaussian noise added to every
        feature; each feature's noise-free part lies in (-1, 1).
    shuffle : bool, default=True
        Shuffle the rows; otherwise they come sorted by class.
    random_state : int, RandomState instance or None, default=None
        Seeds everything. Pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, sum(n_features)), dtype float32
        The modalities side by side, in the order of ``n_features``:
        modality ``m`` occupies columns
        ``sum(n_features[:m]) <= j < sum(n_features[:m + 1])``.
    y : ndarray of shape (n_samples,), dtype int64
        The class of each sample, in ``0 .. n_classes - 1``.

    See Also
    --------
    skmv.shared.SharedRBM : Learns a shared representation of such blocks.

    Examples
    --------
    >>> from skmv.datasets import make_paired_modalities
    >>> X, y = make_paired_modalities(n_samples=100, random_state=0)
    >>> X.shape, X.dtype, y.shape
    ((100, 70), dtype('float32'), (100,))
    >>> X_a, X_b = X[:, :40], X[:, 40:]  # the two modalities
    """
    n_features = _check_n_features(n_features)
    rng = check_random_state(random_state)

    y = np.arange(n_samples, dtype=np.int64) * n_classes // n_samples
    centers = rng.normal(scale=_CLASS_SEP, size=(n_classes, n_latent))
    z = centers[y] + rng.normal(size=(n_samples, n_latent))

    blocks = []
    for width in n_features:
        A = rng.normal(scale=1.0 / np.sqrt(n_latent), size=(n_latent, width))
        t = rng.uniform(-1.0, 1.0, size=width)
        signal = np.tanh(z @ A + t)
        blocks.append(signal + noise * rng.normal(size=(n_samples, width)))
    X = np.concatenate(blocks, axis=1).astype(np.float32)

    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X, y


def _check_n_features(n_features):
    widths = list(np.ravel(np.asarray(n_features, dtype=object)))
    if np.ndim(n_features) != 1 or not widths:
        raise ValueError(
            "n_features must be a sequence with one int per modality, got "
            f"{n_features!r}."
        )
    for m, width in enumerate(widths):
        if not isinstance(width, Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(
                f"n_features[{m}] must be an int >= 1 (the features of modality "
                f"{m}), got {width!r}."
            )
    return [int(width) for width in widths]
