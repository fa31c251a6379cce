"""Data sets for skmv's tests, examples and doctests.

``make_*`` functions generate data from a seed; nothing is downloaded.
"""

from ._synthetic import make_paired_modalities

__all__ = ["make_paired_modalities"]
