"Geometry parity with MMPose 1.3.2 (`tests/data/reference/bbox.npz`, `warp.npz`) and properties of the core functions."
import numpy as np, pytest
from hypothesis import given, strategies as st, settings
from hypothesis.extra.numpy import arrays
from conftest import data_file
from poseai.core import *

@pytest.fixture(scope='module')
def bbox_ref(): return np.load(data_file('reference', 'bbox.npz'))

@pytest.fixture(scope='module')
def warp_ref(): return np.load(data_file('reference', 'warp.npz'))

def test_bbox_xyxy2cs_matches_mmpose(bbox_ref):
    center, scale = bbox_xyxy2cs(bbox_ref['xyxy'], padding=1.25)
    np.testing.assert_allclose(center, bbox_ref['center'], atol=1e-5, rtol=0)
    np.testing.assert_allclose(scale, bbox_ref['scale'], atol=1e-5, rtol=0)

def test_fix_aspect_ratio_matches_mmpose(bbox_ref):
    np.testing.assert_allclose(fix_aspect_ratio(bbox_ref['scale'], 192 / 256), bbox_ref['scale_fixed'], atol=1e-5, rtol=0)

def test_bbox_xywh2xyxy_matches_mmpose(bbox_ref):
    np.testing.assert_allclose(bbox_xywh2xyxy(bbox_ref['xywh']), bbox_ref['xyxy_from_xywh'], atol=1e-5, rtol=0)

def test_single_box_rows_match_batched(bbox_ref):
    for xyxy, center in zip(bbox_ref['xyxy'], bbox_ref['center']):
        np.testing.assert_allclose(bbox_xyxy2cs(xyxy, 1.25)[0], center, atol=1e-5, rtol=0)

@pytest.mark.parametrize('key,kwargs', [('warp', {}), ('warp_inv', dict(inv=True))])
def test_get_warp_matrix_matches_mmpose(warp_ref, key, kwargs):
    for i, (c, s, r) in enumerate(zip(warp_ref['centers'], warp_ref['scales'], warp_ref['rots'])):
        np.testing.assert_allclose(get_warp_matrix(c, s, r, (192, 256), **kwargs), warp_ref[key][i], atol=1e-5, rtol=1e-6, err_msg=f'row {i}')

def test_get_warp_matrix_shift_matches_mmpose(warp_ref):
    for i, (c, s, r, sh) in enumerate(zip(*(warp_ref[k] for k in ('centers', 'scales', 'rots', 'shifts')))):
        np.testing.assert_allclose(get_warp_matrix(c, s, r, (192, 256), shift=sh), warp_ref['warp_shift'][i], atol=1e-5, rtol=1e-6, err_msg=f'row {i}')

def test_get_udp_warp_matrix_matches_mmpose(warp_ref):
    for i, (c, s, r) in enumerate(zip(warp_ref['centers'], warp_ref['scales'], warp_ref['rots'])):
        np.testing.assert_allclose(get_udp_warp_matrix(c, s, r, (192, 256)), warp_ref['warp_udp'][i], atol=1e-5, rtol=1e-6, err_msg=f'row {i}')

# --- properties --------------------------------------------------------------------------------------------------
coords = st.floats(-1e3, 1e3, allow_nan=False, width=32)
sizes = st.floats(1, 1e3, allow_nan=False, width=32)

@given(x=coords, y=coords, w=sizes, h=sizes, padding=st.floats(1, 2))
def test_cs_roundtrip(x, y, w, h, padding):
    xyxy = np.array([x, y, x + w, y + h], np.float64)
    center, scale = bbox_xyxy2cs(xyxy, padding)
    np.testing.assert_allclose(bbox_cs2xyxy(center, scale, padding), xyxy, atol=1e-6 * (1 + np.abs(xyxy).max()))
    np.testing.assert_allclose(bbox_cs2xywh(center, scale, padding), bbox_xyxy2xywh(xyxy), atol=1e-6 * (1 + np.abs(xyxy).max()))
    np.testing.assert_allclose(np.concatenate(bbox_xywh2cs(bbox_xyxy2xywh(xyxy), padding)), np.concatenate([center, scale]), atol=1e-6 * (1 + np.abs(xyxy).max()))

@given(w=sizes, h=sizes, ratio=st.floats(0.2, 5))
def test_fix_aspect_ratio_grows_to_ratio(w, h, ratio):
    fixed = fix_aspect_ratio(np.array([w, h]), ratio)
    assert np.isclose(fixed[0] / fixed[1], ratio, rtol=1e-6)
    assert fixed[0] >= w * (1 - 1e-9) and fixed[1] >= h * (1 - 1e-9)   # never shrinks a side
    assert np.isclose(fixed[0], w) or np.isclose(fixed[1], h)           # keeps the long side

@given(cx=coords, cy=coords, w=sizes, h=sizes, rot=st.floats(-180, 180), sx=st.floats(-0.3, 0.3), sy=st.floats(-0.3, 0.3))
@settings(max_examples=50)
def test_warp_inverse_and_centre(cx, cy, w, h, rot, sx, sy):
    center, scale = np.array([cx, cy]), fix_aspect_ratio(np.array([w, h]), 0.75)
    fwd = get_warp_matrix(center, scale, rot, (192, 256), shift=(sx, sy))
    inv = get_warp_matrix(center, scale, rot, (192, 256), shift=(sx, sy), inv=True)
    np.testing.assert_allclose(affine_points(center + scale * [sx, sy], fwd), [96, 128], atol=1e-2 * (1 + scale.max() / 100))
    pts = np.array([[0., 0.], [191., 255.], [50., 200.]])
    np.testing.assert_allclose(affine_points(affine_points(pts, inv), fwd), pts, atol=2e-2)

@given(kps=arrays(np.float64, (2, 5, 2), elements=st.floats(0, 500)), direction=st.sampled_from(['horizontal', 'vertical', 'diagonal']))
def test_flip_keypoints_twice_is_identity(kps, direction):
    flip_indices, vis = [0, 2, 1, 4, 3], np.random.default_rng(0).random((2, 5))
    once = flip_keypoints(kps, vis, (640, 480), flip_indices, direction)
    twice = flip_keypoints(*once, (640, 480), flip_indices, direction)
    np.testing.assert_allclose(twice[0], kps, atol=1e-9); np.testing.assert_array_equal(twice[1], vis)

def test_flip_keypoints_swaps_sides_and_visibility_with_weights():
    kps = np.array([[[10., 5.], [20., 6.], [30., 7.]]])
    vis = np.array([[[1., 0.5], [0., 0.], [1., 1.]]])             # (N, K, 2) visibility + weight, as MMPose allows
    out, out_vis = flip_keypoints(kps, vis, (100, 50), [0, 2, 1])
    np.testing.assert_array_equal(out, [[[89, 5], [69, 7], [79, 6]]])
    np.testing.assert_array_equal(out_vis, vis[:, [0, 2, 1]])

@given(x1=st.floats(0, 300), y1=st.floats(0, 300), w=st.floats(1, 300), h=st.floats(1, 300), direction=st.sampled_from(['horizontal', 'vertical', 'diagonal']))
def test_flip_bbox_xyxy_is_an_involution_and_keeps_order(x1, y1, w, h, direction):
    box = np.array([x1, y1, x1 + w, y1 + h])
    flipped = flip_bbox(box, (640, 480), 'xyxy', direction)
    assert flipped[0] <= flipped[2] and flipped[1] <= flipped[3]
    np.testing.assert_allclose(flip_bbox(flipped, (640, 480), 'xyxy', direction), box, atol=1e-9)

def test_bad_direction_is_named():
    with pytest.raises(ValueError, match='upside'): flip_keypoints(np.zeros((1, 2)), None, (10, 10), [0], 'upside')

# --- every box/keypoint function against MMPose 1.3.2 on random inputs (tests/data/make_mmpose_geometry.py made the file) ---
@pytest.fixture(scope='module')
def geo():
    from pathlib import Path
    return np.load(Path(__file__).with_name('data') / 'mmpose_geometry.npz')

def assert_same(ours, mmpose):
    "Bit-identical values and the same dtype as MMPose's."
    assert np.asarray(ours).dtype == mmpose.dtype, (np.asarray(ours).dtype, mmpose.dtype)
    np.testing.assert_array_equal(ours, mmpose)

def test_box_conversions_are_bit_identical(geo):
    assert_same(bbox_xyxy2xywh(geo['xyxy']), geo['xywh'])
    assert_same(bbox_xywh2xyxy(geo['xywh']), geo['xywh2xyxy'])
    for p in (1., 1.25):
        center, scale = bbox_xyxy2cs(geo['xyxy'], p)
        assert_same(center, geo[f'c{p}']); assert_same(scale, geo[f's{p}'])
        assert_same(np.concatenate(bbox_xywh2cs(geo['xywh'], p), 1), np.concatenate([geo[f'c2{p}'], geo[f's2{p}']], 1))
        assert_same(bbox_cs2xyxy(center, scale, p), geo[f'cs2xyxy{p}'])
        assert_same(bbox_cs2xywh(center, scale, p), geo[f'cs2xywh{p}'])
    assert_same(bbox_clip_border(geo['xyxy'] - 100, (300, 200)), geo['clip'])

@pytest.mark.parametrize('fmt', ['xywh', 'xyxy', 'center'])
@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_bbox_is_bit_identical(geo, fmt, direction):
    box = geo['xyxy'] if fmt == 'xyxy' else geo['xywh'] if fmt == 'xywh' else geo['xyxy'][:, :2]
    assert_same(flip_bbox(box, (640, 480), fmt, direction), geo[f'flip_{fmt}_{direction}'])

@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_keypoints_is_bit_identical(geo, direction):
    flip_indices = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    kps, vis = flip_keypoints(geo['kps'], geo['vis'], (640, 480), flip_indices, direction)
    assert_same(kps, geo[f'fk_{direction}']); assert_same(vis, geo[f'fv_{direction}'])
