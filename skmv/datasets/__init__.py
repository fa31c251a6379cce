"""Data sets for skmv's tests, examples and doctests.

``make_*`` functions generate data from a seed; nothing is downloaded.
:func:`write_media` encodes real media files (H.264/AAC and others, through
PyAV) from frames and samples, which the content generators make.
"""

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
    "make_music_video_features",
    "make_paired_modalities",
    "moving_bars",
    "read_counter",
    "tone",
    "write_media",
]
