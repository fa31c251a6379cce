"""Features of music-video segments: pure functions on decoded arrays, and the
featurizer estimators that wrap them (one row per segment).

``VideoFeaturizer`` and ``AudioFeaturizer`` take a list of
:class:`~skmv.io.Segment` (``input="segments"``, decoding each file once) or
decoded arrays (``input="content"``); with ``missing="nan"`` a segment
without their modality (a song for the video side) is a row of NaN. The
per-segment computations are pure functions in :mod:`skmv.features.video` and
:mod:`skmv.features.audio` (``segment_features`` and ``feature_names`` in
each).
"""

from ._batch import SkippedFile
from .audio import (
    AudioFeaturizer,
    curve_names,
    mid_level_features,
    mirstat,
    pool_windows,
)
from .video import (
    VideoFeaturizer,
    color_histograms,
    frame_distances,
    frame_windows,
    grey_frames,
    hog_descriptors,
    hog_dimension,
    lbp_histograms,
    optical_flow,
    optical_flow_histograms,
    resize_frames,
)

__all__ = [
    "AudioFeaturizer",
    "SkippedFile",
    "VideoFeaturizer",
    "color_histograms",
    "curve_names",
    "frame_distances",
    "frame_windows",
    "grey_frames",
    "hog_descriptors",
    "hog_dimension",
    "lbp_histograms",
    "mid_level_features",
    "mirstat",
    "optical_flow",
    "optical_flow_histograms",
    "pool_windows",
    "resize_frames",
]
