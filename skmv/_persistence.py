"""Model files that are safe to load: :func:`save_model` and :func:`load_model`.

A pickle runs whatever code its author chose when it is loaded. skmv's model
files are written with ``skops.io``, which stores the objects' state and
rebuilds only types it is told to trust: scikit-learn's, NumPy's, and the ones
listed here, skmv's own estimators. A file that needs any other type is
refused, naming it, unless the caller trusts it explicitly.
"""

from __future__ import annotations

import os

__all__ = ["load_model", "save_model"]

# Helper types skmv's fitted estimators hold besides their own classes.
_HELPER_TYPES = ("sklearn.utils._bunch.Bunch",)


def _skmv_types():
    """The fully qualified names of skmv's estimator classes."""
    from sklearn.base import BaseEstimator

    import skmv

    names = set(_HELPER_TYPES)
    for name in skmv.__all__:
        obj = getattr(skmv, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            names.add(f"{obj.__module__}.{obj.__qualname__}")
    return names


def save_model(model, file):
    """Write a fitted (or unfitted) model to a file that is safe to load.

    The file is a ``skops.io`` archive (``.skops`` by convention): the state
    of the model and of everything it holds, no code. Models fitted on a GPU
    are written with NumPy arrays, so they load on machines without one.

    Parameters
    ----------
    model : estimator
        Any skmv estimator, or a scikit-learn pipeline or meta-estimator of
        them.
    file : str or os.PathLike
        Where to write it.

    See Also
    --------
    load_model : Read it back.

    Examples
    --------
    >>> import tempfile, os
    >>> from skmv import BernoulliRBM, load_model, save_model
    >>> from skmv.datasets import make_paired_modalities
    >>> X, _ = make_paired_modalities(100, n_features=(6,), noise=0.0, random_state=0)
    >>> rbm = BernoulliRBM(4, n_iter=2, random_state=0).fit((X + 1) / 2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_model(rbm, os.path.join(tmp, "rbm.skops"))
    ...     same = load_model(os.path.join(tmp, "rbm.skops"))
    >>> bool((same.components_ == rbm.components_).all())
    True
    """
    import skops.io

    skops.io.dump(model, os.fspath(file))


def load_model(file, *, trusted=None):
    """Read a model written by :func:`save_model`, refusing unknown types.

    Parameters
    ----------
    file : str or os.PathLike
        A file written by :func:`save_model` (or ``skops.io.dump``).
    trusted : list of str or None, default=None
        Fully qualified names of further types to trust (those of your own
        estimators, say: ``["mypackage.MyEncoder"]``). skmv's estimators,
        scikit-learn's and NumPy's are always trusted.

    Returns
    -------
    model : estimator

    Raises
    ------
    FileNotFoundError
        If ``file`` does not exist.
    ValueError
        If ``file`` is not a model file, or needs types that are not trusted
        (the message names them).

    See Also
    --------
    save_model : Write one.
    """
    import skops.io

    path = os.fspath(file)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file.")
    try:
        needed = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a skmv model file (written by skmv.save_model): {exc}"
        ) from exc
    allowed = _skmv_types() | set(trusted or ())
    refused = sorted(set(needed) - allowed)
    if refused:
        raise ValueError(
            f"{path}: refuses to load types that skmv does not trust: "
            f"{', '.join(refused)}. If you know where this file comes from, pass "
            "them as load_model(..., trusted=[...])."
        )
    return skops.io.load(path, trusted=list(needed))
