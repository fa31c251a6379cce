"""Data sets for skmv's tests, examples and doctests.

``make_*`` functions generate data from a seed; nothing is downloaded.
:func:`load_digit_halves` splits scikit-learn's bundled digits into two
views, a small real benchmark for cross-modal retrieval.
:func:`write_media` encodes real media files (H.264/AAC and others, through
PyAV) from frames and samples, which the content generators make;
:func:`make_music_videos` writes a whole corpus of music videos with it.
:func:`get_data_home` is where generated corpora and caches live.
"""

from ._corpus import make_music_videos
from ._digits import load_digit_halves
from ._home import get_data_home
from ._media import (
    clicks,
    colour_ramp,
    counter_frames,
    flash_frames,
    moving_bars,
    read_counter,
    tone,
    write_media,
)
from ._synthetic import make_music_video_features, make_paired_modalities

__all__ = [
    "clicks",
    "colour_ramp",
    "counter_frames",
    "flash_frames",
    "get_data_home",
    "load_digit_halves",
    "make_music_video_features",
    "make_music_videos",
    "make_paired_modalities",
    "moving_bars",
    "read_counter",
    "tone",
    "write_media",
]
