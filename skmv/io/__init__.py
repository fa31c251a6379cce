"""Media input: segments of music videos, decoded as frames and samples.

:func:`segment_media` cuts files into back-to-back :class:`Segment` s (the
samples of skmv), music videos, songs and silent footage alike, each segment
saying which modalities it has; :func:`iter_video` and :func:`iter_audio`
decode the segments of one file in one pass, holding about one segment in
memory; :func:`read_video` and :func:`read_audio` decode one span. Everything that
can go wrong with a file raises a :class:`~skmv.exceptions.MediaError` that
names it, and :func:`call_isolated` turns a decoder that crashes or hangs
into one as well.

Layouts: video is ``(n_frames, height, width, 3)`` uint8 RGB at ``fps``
frames per second; audio is ``(n_samples,)`` float32 mono at ``sr`` Hz;
times are seconds from the file's time origin.
"""

from ._decode import iter_audio, iter_video, read_audio, read_video
from ._isolate import call_isolated
from ._probe import MediaInfo, probe
from ._segments import (
    MEDIA_EXTENSIONS,
    MediaWarning,
    Segment,
    SegmentList,
    segment_media,
)
from ._units import frames_to_time, samples_to_time, time_to_frames, time_to_samples

__all__ = [
    "MEDIA_EXTENSIONS",
    "MediaInfo",
    "MediaWarning",
    "Segment",
    "SegmentList",
    "call_isolated",
    "frames_to_time",
    "iter_audio",
    "iter_video",
    "probe",
    "read_audio",
    "read_video",
    "samples_to_time",
    "segment_media",
    "time_to_frames",
    "time_to_samples",
]
