"""Tests of skmv.features.video: the descriptor functions and VideoFeaturizer.

Every clip is made here: smooth random textures (Gaussian-blurred noise) that
move by whole pixels, and flat colours. Image coordinates: x to the right, y
down; a flow angle of 0 is motion to the right, +90 degrees motion down.
"""

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skmv.features import (
    VideoFeaturizer,
    color_histograms,
    frame_distances,
    frame_windows,
    grey_frames,
    hog_descriptors,
    lbp_histograms,
    optical_flow,
    optical_flow_histograms,
)
from skmv.features.video import _versions, feature_names, segment_features

RND_SEED = 0
SIZE = (320, 240)  # (width, height), the paper's working size
N_FRAMES = 6
DEFAULT_DIM = 2 * (1260 + 128 + 59 + 72) + 2 * 3  # 3044, as documented


def _texture(height, width, seed=RND_SEED):
    """A smooth grey texture with full contrast, as RGB uint8."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3)
    t = (t - t.min()) / (t.max() - t.min()) * 255
    return np.repeat(np.rint(t).astype(np.uint8)[..., None], 3, axis=-1)


def _moving(dx=0, dy=0, n_frames=N_FRAMES, size=SIZE, seed=RND_SEED):
    """A texture moving (dx, dy) pixels per frame (x right, y down)."""
    width, height = size
    pad = 100
    tex = _texture(height + 2 * pad, width + 2 * pad, seed)
    return np.stack(
        [
            tex[
                pad - dy * t : pad - dy * t + height,
                pad - dx * t : pad - dx * t + width,
            ]
            for t in range(n_frames)
        ]
    )


def _flat(rgb, n_frames=N_FRAMES, size=SIZE):
    width, height = size
    return np.broadcast_to(
        np.asarray(rgb, np.uint8), (n_frames, height, width, 3)
    ).copy()


def _block(vf, x, block, stat="mean"):
    """Columns of ``x`` named ``{block}_{stat}_{i}``, in order of i."""
    names = vf.get_feature_names_out()
    return x[..., [n.startswith(f"{block}_{stat}_") for n in names]]


def _row(clip, **params):
    return VideoFeaturizer(input="content", **params).fit_transform([clip])[0]


@pytest.fixture(scope="module")
def texture_clip():
    return _moving(2, 1)


# --------------------------------------------------------------------------
# The estimator: shapes, names, dtype, determinism
# --------------------------------------------------------------------------


def test_default_output_shape_dtype_and_names(texture_clip):
    vf = VideoFeaturizer(input="content")
    X = vf.fit_transform([texture_clip, _moving(-1, 0, seed=1)])
    assert X.shape == (2, DEFAULT_DIM)
    assert X.dtype == np.float32
    assert np.isfinite(X).all()
    names = vf.get_feature_names_out()
    assert vf.n_features_out_ == len(names) == X.shape[1]
    assert_array_equal(vf.feature_names_out_, names)
    assert len(set(names)) == len(names)
    for name in ("hog_mean_17", "flow_hist_std_3", "color_dist_mean", "lbp_dist_std"):
        assert name in names
    assert names[0] == "hog_mean_0" and names[-1] == "lbp_dist_std"


@pytest.mark.parametrize(
    "params, dims",
    [
        # 4x3 cells of 80 pixels -> 3x2 blocks of 2x2 cells
        (dict(hog_cell=80), dict(hog=3 * 2 * 4 * 9)),
        (dict(hog_block=1, hog_bins=6), dict(hog=8 * 6 * 6)),
        (dict(color_bins=(16, 8, 8)), dict(color_hist=1024)),
        (dict(color_bins=(4, 2, 2)), dict(color_hist=16)),
        (dict(lbp="rotation_invariant"), dict(lbp_hist=10)),
        (dict(flow_bins=4, flow_grid=(1, 2)), dict(flow_hist=8)),
        (dict(scale=1.0, hog_cell=80), dict(hog=3 * 2 * 4 * 9)),
    ],
)
def test_parameters_set_block_sizes(texture_clip, params, dims):
    full = dict(hog=1260, color_hist=128, lbp_hist=59, flow_hist=72)
    full.update(dims)
    vf = VideoFeaturizer(input="content", **params).fit()
    x = vf.transform([texture_clip])
    assert x.shape == (1, 2 * sum(full.values()) + 6)
    for block, d in full.items():
        assert _block(vf, x, block, "mean").shape[-1] == d
        assert _block(vf, x, block, "std").shape[-1] == d
    assert_array_equal(vf.get_feature_names_out(), feature_names(**params))


def test_same_input_same_features(texture_clip):
    vf = VideoFeaturizer(input="content")
    a = vf.transform([texture_clip, texture_clip])
    b = clone(vf).transform(np.stack([texture_clip, texture_clip]))  # 5-D array
    assert_array_equal(a[0], a[1])
    assert_array_equal(a, b)
    # The estimator is a thin wrapper over segment_features.
    assert_array_equal(a[0], segment_features(texture_clip))


def test_transform_needs_no_fit_and_fit_returns_self(texture_clip):
    vf = VideoFeaturizer(input="content")
    assert vf.__sklearn_tags__().requires_fit is False
    assert vf.__sklearn_tags__().input_tags.two_d_array is False
    assert vf.transform([texture_clip]).shape == (1, DEFAULT_DIM)
    assert vf.fit([texture_clip]) is vf
    assert vf._featurize(texture_clip).shape == (DEFAULT_DIM,)
    assert vf.transform([]).shape == (0, DEFAULT_DIM)


def test_frames_of_another_size_are_resized(texture_clip):
    # Each pixel repeated 2x2: shrinking to 160x120 averages the same values,
    # up to the rounding to uint8 (a 4x and a 2x area resize round apart).
    big = texture_clip.repeat(2, axis=1).repeat(2, axis=2)
    assert big.shape[1:3] == (480, 640)
    vf = VideoFeaturizer(input="content")
    x_big, x = vf.transform([big, texture_clip])
    assert np.corrcoef(x_big, x)[0, 1] > 0.999
    assert_allclose(_block(vf, x_big, "hog"), _block(vf, x, "hog"), atol=0.01)
    assert_allclose(
        _block(vf, x_big, "flow_hist"), _block(vf, x, "flow_hist"), atol=0.1
    )
    # Shrinking and stretching too: the shape is the working size's.
    odd = np.stack([cv2.resize(f, (200, 300)) for f in texture_clip])
    assert _row(odd).shape == (DEFAULT_DIM,)


def test_memory_and_n_jobs_give_the_same_rows(tmp_path, texture_clip):
    from joblib import parallel_config

    clips = [texture_clip, _moving(0, 3, seed=2)]
    ref = VideoFeaturizer(input="content").transform(clips)
    cached = VideoFeaturizer(input="content", memory=str(tmp_path))
    assert_array_equal(cached.transform(clips), ref)
    assert_array_equal(cached.transform(clips), ref)  # from the cache
    with parallel_config(backend="threading"):
        assert_array_equal(
            VideoFeaturizer(input="content", n_jobs=2).transform(clips), ref
        )


def test_versions_are_recorded():
    v = _versions()
    assert v["opencv"] == cv2.__version__
    assert v["numpy"] == np.__version__
    assert "skmv" in v


# --------------------------------------------------------------------------
# What the features say about the video
# --------------------------------------------------------------------------


def test_brighter_video_has_brighter_colour_features(texture_clip):
    vf = VideoFeaturizer(input="content")
    bright = np.clip(texture_clip.astype(np.int16) + 80, 0, 255).astype(np.uint8)
    x_dark, x_bright = vf.transform([texture_clip, bright])
    # Marginal of value (V) over hue and saturation, 4 bins.
    v_dark = _block(vf, x_dark, "color_hist").reshape(8, 4, 4).sum(axis=(0, 1))
    v_bright = _block(vf, x_bright, "color_hist").reshape(8, 4, 4).sum(axis=(0, 1))
    assert_allclose(v_dark.sum(), 1.0, rtol=1e-5)
    assert v_bright[3] > v_dark[3] + 0.2
    assert v_bright[:2].sum() < v_dark[:2].sum()
    assert v_bright @ np.arange(4) > v_dark @ np.arange(4) + 0.5


def test_red_and_blue_videos_differ_in_hue():
    vf = VideoFeaturizer(input="content")
    x_red, x_blue = vf.transform([_flat((255, 0, 0)), _flat((0, 0, 255))])
    red = _block(vf, x_red, "color_hist").reshape(8, 4, 4)
    blue = _block(vf, x_blue, "color_hist").reshape(8, 4, 4)
    # Hue bins are 45 degrees: red (0) in bin 0, blue (240) in bin 5; both
    # fully saturated and bright.
    assert red[0, 3, 3] == pytest.approx(1.0)
    assert blue[5, 3, 3] == pytest.approx(1.0)
    assert red[5].sum() == 0 and blue[0].sum() == 0


@pytest.mark.parametrize(
    "dx, dy, peak",
    [(3, 0, 0), (0, 3, 2), (-3, 0, 4), (0, -3, 6), (2, 2, 1)],
    ids=["right-0deg", "down-90deg", "left-180deg", "up-270deg", "down-right-45deg"],
)
def test_flow_histogram_peaks_in_the_direction_of_motion(dx, dy, peak):
    vf = VideoFeaturizer(input="content", flow_bins=8, flow_grid=(1, 1))
    hist = _block(vf, vf.transform([_moving(dx, dy)])[0], "flow_hist")
    assert hist.argmax() == peak
    assert hist[peak] > 0.9 * hist.sum()
    # The sum is the mean speed, in pixels per frame of the working size.
    assert hist.sum() == pytest.approx(np.hypot(dx, dy), rel=0.15)


def test_faster_motion_gives_larger_flow():
    vf = VideoFeaturizer(input="content")
    slow, fast = vf.transform([_moving(1, 0), _moving(6, 0)])
    speed_slow = _block(vf, slow, "flow_hist").sum() / 9  # mean over 3x3 cells
    speed_fast = _block(vf, fast, "flow_hist").sum() / 9
    assert speed_fast > 3 * speed_slow > 0
    assert speed_fast == pytest.approx(6, rel=0.15)


def test_static_video_has_no_motion_and_zero_distances():
    vf = VideoFeaturizer(input="content")
    still = np.repeat(_moving(n_frames=1), N_FRAMES, axis=0)
    x = vf.transform([still])[0]
    assert np.abs(_block(vf, x, "flow_hist")).max() < 0.05
    names = vf.get_feature_names_out()
    dist = x[[n.endswith(("_dist_mean", "_dist_std")) for n in names]]
    assert_array_equal(dist, 0.0)
    # Nothing changes over time: every per-frame standard deviation is 0.
    for block in ("hog", "color_hist", "lbp_hist"):
        assert_array_equal(_block(vf, x, block, "std"), 0.0)


def test_scene_cut_gives_large_distances(texture_clip):
    vf = VideoFeaturizer(input="content", flow_grid=(1, 1))
    cut = np.concatenate([texture_clip[:3], _flat((200, 30, 30), n_frames=3)])
    x_cut, x_smooth = vf.transform([cut, texture_clip])
    names = list(vf.get_feature_names_out())
    for block in ("hog_dist", "color_dist", "lbp_dist"):
        j = names.index(f"{block}_std")
        assert x_cut[j] > 2 * x_smooth[j]


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((N_FRAMES, 24, 32), np.uint8), r"Segment 1 must have shape"),
        (np.zeros((N_FRAMES, 24, 32, 4), np.uint8), r"Segment 1 must have shape"),
        (np.full((N_FRAMES, 24, 32, 3), 300, np.int32), r"Segment 1 values .*0, 255"),
        (np.full((N_FRAMES, 24, 32, 3), -1.0), r"Segment 1 values .*0, 255"),
        (
            np.full((N_FRAMES, 24, 32, 3), 0.5),
            r"Segment 1 has float values in \[0, 1\]",
        ),
        (np.zeros((1, 24, 32, 3), np.uint8), r"Segment 1 has 1 frame"),
        ("clip.mp4", r"Segment 1 is a str.*input='segments'"),
    ],
    ids=[
        "3d",
        "4-channels",
        "int-300",
        "negative",
        "unit-floats",
        "one-frame",
        "path",
    ],
)
def test_bad_content_names_the_segment(texture_clip, bad, match):
    with pytest.raises(ValueError, match=match):
        VideoFeaturizer(input="content").transform([texture_clip, bad])


def test_a_missing_segment_is_a_nan_row_or_an_error(texture_clip):
    """None stands for a segment without video: a NaN row under
    missing="nan" (the others unchanged), an error naming it otherwise."""
    params = dict(flow_grid=(1, 1), scale=0.25)
    alone = VideoFeaturizer(input="content", **params).fit_transform([texture_clip])
    vf = VideoFeaturizer(input="content", missing="nan", **params)
    X = vf.fit_transform([None, texture_clip, None])
    assert X.shape == (3, alone.shape[1]) and X.dtype == np.float32
    assert np.isnan(X[[0, 2]]).all()
    assert_array_equal(X[1], alone[0])
    assert np.isnan(vf.transform([None])).all()
    with pytest.raises(ValueError, match="Segment 2 is None.*missing='nan'"):
        VideoFeaturizer(input="content", **params).transform(
            [texture_clip, texture_clip, None]
        )
    with pytest.raises(ValueError, match="missing"):
        VideoFeaturizer(input="content", missing="zero").fit()


def test_integer_frames_in_range_are_accepted(texture_clip):
    as_int = texture_clip.astype(np.int64)
    assert_array_equal(_row(as_int), _row(texture_clip))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(size=(320,)), "size must be 2 ints"),
        (dict(size=(2, 240)), r"size must be at least"),
        (dict(hog_cell=200), r"HOG cells of 200 pixels"),
        (dict(color_bins=(8, 4)), "color_bins must be 3 ints"),
        (dict(color_bins=(200, 4, 4)), r"at most \(180, 256, 256\)"),
        (dict(flow_grid=(200, 1)), "flow_grid"),
        (dict(lbp="ror"), "lbp"),
        (dict(scale=0.0), "scale"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        VideoFeaturizer(input="content", **params).fit()


# --------------------------------------------------------------------------
# The descriptor functions
# --------------------------------------------------------------------------


def test_hog_orientation_of_stripes():
    # Horizontal stripes: intensity varies along y, gradients at 90 degrees,
    # the centre of bin 4 of 9 (bins of 20 degrees centred at 10 + 20 k).
    y = np.arange(120)[:, None] * np.ones((1, 160))
    stripes = (127.5 + 127.5 * np.sin(2 * np.pi * y / 16)).astype(np.uint8)
    hog = hog_descriptors(stripes[None], cell=20, block=1, bins=9).reshape(6, 8, 9)
    assert (hog.argmax(axis=-1) == 4).all()
    # Vertical stripes: 0 degrees, split evenly between bins 8 and 0.
    hog_v = hog_descriptors(stripes.T[None], cell=20, block=1, bins=9)
    cells = hog_v.reshape(8, 6, 9)
    assert_allclose(cells[..., 0], cells[..., 8], rtol=1e-5)
    assert cells[..., 1:8].max() < 1e-6


def test_hog_blocks_are_normalised_and_flat_frames_are_zero():
    rng = np.random.default_rng(RND_SEED)
    frames = rng.integers(0, 256, (2, 60, 80, 3), dtype=np.uint8)
    hog = hog_descriptors(frames, cell=10, block=2, bins=9)
    blocks = hog.reshape(2, -1, 36)
    assert blocks.shape[1] == 7 * 5
    assert blocks.max() <= 1.0 and blocks.min() >= 0.0
    assert_allclose(np.linalg.norm(blocks, axis=-1), 1.0, atol=0.05)
    assert_array_equal(hog_descriptors(np.zeros((1, 60, 80), np.uint8), cell=10), 0)


def test_colour_histograms_are_fractions():
    rng = np.random.default_rng(RND_SEED)
    frames = rng.integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    for bins in [(8, 4, 4), (16, 8, 8)]:
        h = color_histograms(frames, bins=bins)
        assert h.shape == (3, np.prod(bins))
        assert_allclose(h.sum(axis=1), 1.0, rtol=1e-6)
    # Half black, half white: value bins 0 and 3, zero saturation.
    bw = np.zeros((1, 2, 2, 3), np.uint8)
    bw[0, 0] = 255
    h = color_histograms(bw).reshape(8, 4, 4)
    assert h[0, 0, 0] == h[0, 0, 3] == 0.5


def test_lbp_of_flat_and_textured_frames():
    flat = np.full((2, 10, 12), 7, np.uint8)
    h = lbp_histograms(flat)
    assert h.shape == (2, 59)
    assert_array_equal(h[:, 57], 1.0)  # code 255: all neighbours >= centre
    assert_array_equal(lbp_histograms(flat, mapping="rotation_invariant")[:, 8], 1.0)
    # A bright pixel: its code is 0 (label 0); its neighbours still see all
    # their neighbours >= themselves (code 255).
    dot = flat[:1].copy()
    dot[0, 5, 6] = 200
    h = lbp_histograms(dot)[0] * (8 * 10)
    assert_allclose(h[[0, 57]], [1, 79])
    # A dark pixel: code 255 for it; each of its 8 neighbours loses the bit
    # that points at it (seven ones in a row: 8 distinct uniform labels).
    dot[0, 5, 6] = 0
    h = lbp_histograms(dot)[0] * (8 * 10)
    assert h[57] == 80 - 8
    assert np.count_nonzero(h) == 9 and h[58] == 0
    assert_allclose(lbp_histograms(_moving()).sum(axis=1), 1.0, rtol=1e-6)


def test_flow_functions_agree_with_precomputed_flow():
    clip = _moving(2, 0, size=(160, 120))
    flow = optical_flow(clip)
    assert flow.shape == (N_FRAMES - 1, 120, 160, 2) and flow.dtype == np.float32
    assert np.median(flow[..., 0]) == pytest.approx(2, abs=0.2)
    assert np.abs(np.median(flow[..., 1])) < 0.2
    assert_array_equal(
        optical_flow_histograms(clip, bins=8), optical_flow_histograms(flow=flow)
    )
    with pytest.raises(ValueError, match="frames or a precomputed flow"):
        optical_flow_histograms()


def test_segment_features_accept_precomputed_descriptors():
    clip = _moving(1, 2)
    small = np.stack(
        [cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA) for f in clip]
    )
    grey = grey_frames(small)
    flow_hist = (
        optical_flow_histograms(flow=optical_flow(grey)[:, ::2, ::2], grid=(3, 3)) * 2
    )  # analysis pixels -> pixels of the 320x240 working frame
    given = dict(
        hog=hog_descriptors(grey, cell=20),
        color_hist=color_histograms(small),
        lbp_hist=lbp_histograms(grey),
        flow_hist=flow_hist,
    )
    assert_array_equal(segment_features(size=SIZE, **given), segment_features(clip))
    with pytest.raises(ValueError, match=r"hog must have shape \(n, 1260\)"):
        segment_features(clip, hog=given["hog"][:, :10])


def test_frame_distances():
    x = np.array([[0.0, 1.0], [3.0, 5.0], [3.0, 5.0]])
    assert_allclose(frame_distances(x, metric="l1"), [7.0, 0.0])
    assert_allclose(frame_distances(x, metric="l2"), [5.0, 0.0])
    with pytest.raises(ValueError, match="metric"):
        frame_distances(x, metric="cosine")


def test_frame_windows_is_a_read_only_view():
    x = np.arange(2 * 5).reshape(10, 1)
    w = frame_windows(x, frame_length=4, hop_length=3)
    assert w.shape == (3, 4, 1)
    assert_array_equal(w[2, :, 0], [6, 7, 8, 9])
    assert np.shares_memory(w, x) and not w.flags.writeable
    with pytest.raises(ValueError, match="too short"):
        frame_windows(x, frame_length=11, hop_length=1)
