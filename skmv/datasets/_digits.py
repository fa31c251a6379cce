"""Two views of real data: the left and right halves of handwritten digits."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {
        "n_test": [Interval(Integral, 1, 1796, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_digit_halves(*, n_test=500, random_state=0):
    """Left and right halves of scikit-learn's digits as two modalities.

    A small real two-view retrieval benchmark: each 8x8 image of
    :func:`sklearn.datasets.load_digits` (1797 images) is cut into its left
    four columns and its right four columns, 32 pixels each, and each half
    is standardised (zero mean, unit variance per pixel, over all images).
    The left half of a test image is a query; its own right half, among the
    right halves of the ``n_test`` test images, is the one item to retrieve.
    Neither half determines the other, but they share the digit and the
    writer's stroke.

    Parameters
    ----------
    n_test : int, default=500
        Number of test pairs: the last ``n_test`` images of a permutation.
    random_state : int, RandomState instance or None, default=0
        Seeds the permutation.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` and ``X_test`` (float32, the left half in columns 0-31,
        the right half in 32-63), ``y_train`` and ``y_test`` (the digits),
        and ``modalities``, ``[("left", slice(0, 32)), ("right", slice(32,
        64))]``.

    Examples
    --------
    >>> from skmv.datasets import load_digit_halves
    >>> data = load_digit_halves()
    >>> data.X_train.shape, data.X_test.shape
    ((1297, 64), (500, 64))
    """
    digits = load_digits()
    images = digits.images
    halves = [images[:, :, :4], images[:, :, 4:]]
    blocks = []
    for half in halves:
        block = half.reshape(len(images), -1)
        std = block.std(axis=0)
        block = (block - block.mean(axis=0)) / np.where(std > 0, std, 1.0)
        blocks.append(block)
    X = np.hstack(blocks).astype(np.float32)
    order = check_random_state(random_state).permutation(len(X))
    train, test = order[:-n_test], order[-n_test:]
    return Bunch(
        X_train=X[train],
        X_test=X[test],
        y_train=digits.target[train],
        y_test=digits.target[test],
        modalities=[("left", slice(0, 32)), ("right", slice(32, 64))],
    )
