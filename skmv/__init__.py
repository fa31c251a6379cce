"""skmv: fuse the music and the video of music videos into shared
representations, as scikit-learn estimators.

After B. Xu, X. Wang and X. Tang, "Fusing Music and Video Modalities Using
Multi-timescale Shared Representations", ACM Multimedia 2014.
"""

from ._persistence import load_model, save_model
from .baselines import CCA, CCARetriever
from .dbn import DBNTransformer
from .features import AudioFeaturizer, VideoFeaturizer
from .io import Segment, segment_media
from .metrics import PrecisionAtNDisplay, precision_at_n, retrieval_ranks
from .rbm import BernoulliRBM, GaussianBernoulliRBM
from .retrieval import CrossModalRetriever
from .shared import SharedRBM
from .timescale import (
    MultiTimescaleFusionClassifier,
    TimescaleConcatenator,
    make_windows,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AudioFeaturizer",
    "BernoulliRBM",
    "CCA",
    "CCARetriever",
    "CrossModalRetriever",
    "DBNTransformer",
    "GaussianBernoulliRBM",
    "load_model",
    "make_windows",
    "MultiTimescaleFusionClassifier",
    "precision_at_n",
    "PrecisionAtNDisplay",
    "retrieval_ranks",
    "save_model",
    "Segment",
    "segment_media",
    "SharedRBM",
    "TimescaleConcatenator",
    "VideoFeaturizer",
    "__version__",
]
