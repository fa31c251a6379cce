"""skmv: fuse the music and the video of music videos into shared
representations, as scikit-learn estimators.

After B. Xu, X. Wang and X. Tang, "Fusing Music and Video Modalities Using
Multi-timescale Shared Representations", ACM Multimedia 2014.
"""

import importlib

__version__ = "0.1.0.dev0"

# The public names and the modules that define them, imported on first use:
# ``import skmv`` costs next to nothing, so that the ``skmv`` command starts
# (and answers ``--help``, or a Ctrl-C) at once, and a script pays only for
# what it uses. ``from skmv import SharedRBM`` works as usual.
_PUBLIC = {
    "AudioFeaturizer": "features",
    "BernoulliRBM": "rbm",
    "CCA": "baselines",
    "CCARetriever": "baselines",
    "ClipRetriever": "retrieval",
    "CrossModalRetriever": "retrieval",
    "DBNTransformer": "dbn",
    "FaissNeighbors": "neighbors",
    "GaussianBernoulliRBM": "rbm",
    "load_model": "_persistence",
    "make_windows": "timescale",
    "MultiTimescaleFusionClassifier": "timescale",
    "precision_at_n": "metrics",
    "PrecisionAtNDisplay": "metrics",
    "retrieval_ranks": "metrics",
    "save_model": "_persistence",
    "Segment": "io",
    "segment_media": "io",
    "SharedRBM": "shared",
    "TimescaleConcatenator": "timescale",
    "VideoFeaturizer": "features",
}
_SUBMODULES = (
    "baselines",
    "cli",
    "datasets",
    "dbn",
    "demo",
    "exceptions",
    "features",
    "io",
    "metrics",
    "neighbors",
    "rbm",
    "report",
    "retrieval",
    "shared",
    "store",
    "timescale",
    "tuning",
)

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"skmv.{_PUBLIC[name]}"), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"skmv.{name}")
    else:
        raise AttributeError(f"module 'skmv' has no attribute {name!r}")
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
