"""Tests of skmv.timescale: make_windows and TimescaleConcatenator."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skmv.timescale import TimescaleConcatenator, make_windows

DV, DA = 3, 2  # video and audio columns of a segment row
D = DV + DA
MODALITIES = [("video", slice(0, DV)), ("audio", list(range(DV, D)))]


def _slow_regroup(X, scale, n_segments, blocks):
    """The base-k rows written out row by row, segment by segment."""
    d = X.shape[1] // n_segments
    rows = []
    for window in X:
        segments = [window[s * d : (s + 1) * d] for s in range(n_segments)]
        for first in range(0, n_segments, scale):
            row = []
            for cols in blocks:
                for s in range(first, first + scale):
                    row.extend(segments[s][cols])
            rows.append(row)
    return np.asarray(rows)


# --------------------------------------------------------------------------
# TimescaleConcatenator
# --------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1, 2, 5, 10])
def test_regroups_exactly_on_arange(scale):
    n_windows, n_segments = 3, 10
    X = np.arange(n_windows * n_segments * D, dtype=np.float64).reshape(n_windows, -1)
    tc = TimescaleConcatenator(
        scale, n_segments=n_segments, modalities=MODALITIES, dtype=None
    )
    out = tc.fit_transform(X)
    expected = _slow_regroup(X, scale, n_segments, [slice(0, DV), slice(DV, D)])
    assert out.shape == (n_windows * n_segments // scale, scale * D)
    assert_array_equal(out, expected)
    assert tc.get_output_modalities() == [
        ("video", slice(0, scale * DV)),
        ("audio", slice(scale * DV, scale * D)),
    ]
    # Every input value appears exactly once (a permutation, nothing lost).
    assert_array_equal(np.sort(out.ravel()), X.ravel())


def test_regroup_follows_modality_order_and_drops_unselected_columns():
    X = np.arange(2 * 4 * D, dtype=np.float64).reshape(2, -1)
    blocks = [("audio", [4, 3]), ("video", np.array([True, False, True, False, False]))]
    tc = TimescaleConcatenator(2, n_segments=4, modalities=blocks, dtype=None)
    out = tc.fit_transform(X)
    assert_array_equal(out, _slow_regroup(X, 2, 4, [[4, 3], [0, 2]]))
    assert tc.get_output_modalities() == [
        ("audio", slice(0, 4)),
        ("video", slice(4, 8)),
    ]


def test_default_is_one_block_and_scale_one_gives_segment_rows_back():
    X_seg = np.arange(20 * D, dtype=np.float32).reshape(20, D)
    X_win, _ = make_windows(X_seg, np.zeros(20, dtype=int), n_segments=10)
    out = TimescaleConcatenator(1, n_segments=10).fit_transform(X_win)
    assert_array_equal(out, X_seg)
    assert out.dtype == np.float32


def test_float32_by_default():
    X = np.arange(40, dtype=np.float64).reshape(2, 20)
    assert TimescaleConcatenator(2, n_segments=2).fit_transform(X).dtype == np.float32


def test_fit_resample_repeats_labels_and_records_windows():
    X = np.arange(3 * 10 * D, dtype=np.float64).reshape(3, -1)
    y = np.array(["a", "b", "c"])
    tc = TimescaleConcatenator(5, n_segments=10, modalities=MODALITIES, dtype=None)
    Xr, yr = tc.fit_resample(X, y)
    assert_array_equal(Xr, tc.transform(X))
    assert_array_equal(yr, ["a", "a", "b", "b", "c", "c"])
    assert_array_equal(tc.window_index_, [0, 0, 1, 1, 2, 2])
    assert_array_equal(tc.window_of(2), [0, 0, 1, 1])
    # Each output row's values come from the window it is recorded for.
    width = X.shape[1]
    assert np.all(Xr // width == tc.window_index_[:, None])
    # Multi-output labels are repeated row-wise.
    Y = np.arange(6).reshape(3, 2)
    assert_array_equal(tc.fit_resample(X, Y)[1], np.repeat(Y, 2, axis=0))


def test_feature_names_out():
    X = np.zeros((2, 2 * D))
    tc = TimescaleConcatenator(2, n_segments=2, modalities=MODALITIES).fit(X)
    names = tc.get_feature_names_out()
    assert names.shape == (2 * D,)
    assert list(names[:4]) == [
        "video_s1_x0",
        "video_s1_x1",
        "video_s1_x2",
        "video_s2_x0",
    ]
    assert names[-1] == "audio_s2_x4"
    seg_names = [f"f{c}" for c in range(D)]
    named = tc.get_feature_names_out(seg_names + seg_names)
    assert named[0] == "video_s1_f0" and named[-1] == "audio_s2_f4"


@pytest.mark.parametrize(
    "params, width, match",
    [
        (dict(scale=3, n_segments=10), 10 * D, "scale=3 does not divide n_segments=10"),
        (dict(scale=2, n_segments=4), 4 * D + 1, "not a multiple of n_segments=4"),
        (
            dict(n_segments=2, modalities=[("video", slice(0, 9))]),
            2 * D,
            "",  # a slice past the end is clipped: allowed, checked below
        ),
        (
            dict(n_segments=2, modalities=[("video", [0, 7])]),
            2 * D,
            "Modality 'video' selects columns .* not columns of a segment row of 5",
        ),
        (
            dict(n_segments=2, modalities=[("a", [0, 1]), ("b", [1, 2])]),
            2 * D,
            "must not overlap",
        ),
        (
            dict(n_segments=2, modalities=[("a", [0]), ("a", [1])]),
            2 * D,
            "unique strings",
        ),
        (dict(n_segments=2, modalities=[("a", [])]), 2 * D, "selects no columns"),
        (
            dict(n_segments=2, modalities=["video"]),
            2 * D,
            "list of \\(name, columns\\)",
        ),
        (dict(scale=0), 10, "'scale' parameter .* must be an int in the range"),
    ],
)
def test_concatenator_errors(params, width, match):
    X = np.zeros((2, width))
    tc = TimescaleConcatenator(**params)
    if not match:
        assert tc.fit(X).get_output_modalities() == [("video", slice(0, D))]
        return
    with pytest.raises(ValueError, match=match):
        tc.fit(X)


def test_scale_must_divide_n_segments_in_window_of():
    with pytest.raises(ValueError, match="does not divide"):
        TimescaleConcatenator(4, n_segments=10).window_of(3)


def test_fit_resample_label_length_mismatch():
    X = np.zeros((3, 2 * D))
    with pytest.raises(ValueError, match="y has shape \\(2,\\) but X has 3 windows"):
        TimescaleConcatenator(n_segments=2).fit_resample(X, [0, 1])


def test_transform_checks_width():
    tc = TimescaleConcatenator(n_segments=2).fit(np.zeros((2, 2 * D)))
    with pytest.raises(ValueError, match="expecting 10 features"):
        tc.transform(np.zeros((2, 2 * D + 2)))


# --------------------------------------------------------------------------
# make_windows
# --------------------------------------------------------------------------


def _interleaved_clips(lengths, seed=0):
    """Segment rows of several clips, interleaved at random, time order kept.

    Column 0 is the clip, column 1 the segment's time within its clip.
    """
    rng = np.random.default_rng(seed)
    clip = np.concatenate([np.full(n, c) for c, n in enumerate(lengths)])
    clip = rng.permutation(clip)
    time = np.zeros_like(clip)
    for c in range(len(lengths)):
        time[clip == c] = np.arange(lengths[c])
    return np.column_stack([clip, time]).astype(np.float64), clip


def test_make_windows_never_mixes_clips():
    lengths = [23, 7, 40, 3, 10, 19]
    n_segments = 5
    X, clip = _interleaved_clips(lengths)
    groups = np.array([f"mv{c}" for c in clip])
    Xw, gw, index = make_windows(X, groups, n_segments, return_index=True)

    assert Xw.shape == (sum(n // n_segments for n in lengths), n_segments * 2)
    segments = Xw.reshape(len(Xw), n_segments, 2)
    # One clip per window, and the clip reported is that clip.
    assert np.all(segments[:, :, 0] == segments[:, :1, 0])
    assert_array_equal(gw, [f"mv{int(c)}" for c in segments[:, 0, 0]])
    # Consecutive segments, starting at a multiple of n_segments.
    assert np.all(np.diff(segments[:, :, 1], axis=1) == 1)
    assert np.all(segments[:, 0, 1] % n_segments == 0)
    # index points at the rows that make each window.
    assert_array_equal(X[index].reshape(len(Xw), -1), Xw)
    assert np.all(groups[index] == gw[:, None])


def test_make_windows_drops_trailing_incomplete_windows():
    lengths = [23, 7, 3, 10]
    X, clip = _interleaved_clips(lengths, seed=1)
    Xw, gw = make_windows(X, clip, 5)
    per_clip = {c: np.sum(gw == c) for c in range(len(lengths))}
    assert per_clip == {0: 4, 1: 1, 2: 0, 3: 2}
    # Clip 0 keeps segments 0..19 and loses 20..22.
    times = Xw.reshape(-1, 5, 2)[gw == 0][:, :, 1].ravel()
    assert_array_equal(np.sort(times), np.arange(20))


def test_make_windows_clip_order_is_first_appearance():
    X = np.arange(8).reshape(-1, 1)
    groups = [7, 2, 2, 7, 5, 5, 2, 7]
    Xw, gw = make_windows(X, groups, 2)
    assert_array_equal(gw, [7, 2, 5])
    assert_array_equal(Xw, [[0, 3], [1, 2], [4, 5]])


def test_make_windows_drop_last_false_refuses_incomplete_clips():
    X = np.zeros((7, 2))
    groups = ["a"] * 4 + ["b"] * 3
    with pytest.raises(ValueError, match="Clip 'b' has 3 segments"):
        make_windows(X, groups, 2, drop_last=False)
    Xw, _ = make_windows(X[:6], groups[:4] + ["b"] * 2, 2, drop_last=False)
    assert Xw.shape == (3, 4)


def test_make_windows_groups_length_mismatch():
    with pytest.raises(ValueError, match="groups has 3 entries but X has 4 rows"):
        make_windows(np.zeros((4, 2)), [0, 0, 1], 2)


def test_make_windows_then_concatenator_round_trip():
    # Base-1 rows of windows built from interleaved clips are the clips'
    # segment rows, window by window.
    X, clip = _interleaved_clips([20, 10, 30], seed=2)
    Xw, gw, index = make_windows(X, clip, 10, return_index=True)
    tc = TimescaleConcatenator(1, n_segments=10, dtype=None)
    out, g = tc.fit_resample(Xw, gw)
    assert_array_equal(out, X[index.ravel()])
    assert_array_equal(g, clip[index.ravel()])


def test_make_windows_object_groups_in_error():
    groups = np.array(["a", "a", "bb"], dtype=object)
    with pytest.raises(ValueError, match="Clip 'bb' has 1 segments"):
        make_windows(np.zeros((3, 1)), groups, 2, drop_last=False)


def test_array_api_strict_in_strict_out():
    xps = pytest.importorskip("array_api_strict")
    X, clip = _interleaved_clips([20, 10, 30], seed=3)
    Xw, gw = make_windows(X, clip, 10)
    Xw_s, gw_s = make_windows(xps.asarray(X), clip, 10)
    assert_array_equal(np.asarray(Xw_s), Xw)
    assert_array_equal(gw_s, gw)
    tc = TimescaleConcatenator(5, n_segments=10, modalities=[("a", [1]), ("b", [0])])
    ref, y_ref = tc.fit_resample(Xw, gw)
    out, y_out = tc.fit_resample(Xw_s, xps.asarray(gw))
    assert isinstance(out, type(Xw_s)) and isinstance(y_out, type(Xw_s))
    assert_array_equal(np.asarray(out), ref)
    assert_array_equal(np.asarray(y_out), y_ref)
    # As every skmv estimator, it refuses input from another namespace until
    # moved; a pickle holds NumPy arrays.
    with pytest.raises(ValueError, match="must use the same namespace"):
        tc.transform(Xw)
    loaded = pickle.loads(pickle.dumps(tc))
    assert_array_equal(loaded.transform(Xw), ref)


def test_make_windows_unsortable_groups():
    with pytest.raises(ValueError, match="one sortable type"):
        make_windows(np.zeros((3, 1)), np.array([1, "a", None], dtype=object), 1)


def test_accepts_shared_rbm_modalities():
    X = np.arange(2 * 2 * D, dtype=np.float64).reshape(2, -1)
    shared_form = [(name, "passthrough", cols) for name, cols in MODALITIES]
    a = TimescaleConcatenator(2, n_segments=2, modalities=shared_form).fit(X)
    b = TimescaleConcatenator(2, n_segments=2, modalities=MODALITIES).fit(X)
    assert_array_equal(a.transform(X), b.transform(X))
