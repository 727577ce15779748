"Heatmap codecs and flip-test helpers against MMPose 1.3.2 (`tests/data/reference/heatmap_codecs.npz`, `flip.npz`), numpy and torch paths, and their properties."
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from conftest import data_file
from poseai.core import PoseaiError
from poseai.heatmap_codecs import *

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# the codecs of MANIFEST.json's heatmap_codecs entry, by their reference names
CODECS = dict(msra_s2=lambda: MSRAHeatmap((192, 256), (48, 64), sigma=2),
              msra_s3_384=lambda: MSRAHeatmap((288, 384), (72, 96), sigma=3),
              dark_s2=lambda: MSRAHeatmap((192, 256), (48, 64), sigma=2, unbiased=True, blur_kernel_size=11),
              udp_gauss=lambda: UDPHeatmap((192, 256), (48, 64), sigma=2),
              udp_combined=lambda: UDPHeatmap((192, 256), (48, 64), heatmap_type='combined', radius_factor=0.0546875),
              megvii_k11=lambda: MegviiHeatmap((192, 256), (48, 64), kernel_size=11))
ENCODE_TOL, KEYPOINT_TOL, SCORE_TOL = 1e-5, 1e-3, 1e-5    # the tolerances: heatmaps and weights, decoded px, scores

@pytest.fixture(scope='module')
def ref(): return np.load(data_file('reference', 'heatmap_codecs.npz'))

@pytest.fixture(scope='module')
def flip_ref(): return np.load(data_file('reference', 'flip.npz'))

def reference_inputs(ref, name):
    "The keypoints `(1, K, 2)` and visibility `(1, K)` the reference encoded with codec `name`."
    suffix = '_384x288' if name.endswith('384') else ''
    return ref['keypoints' + suffix], ref['keypoints_visible' + suffix]

def close(actual, expected, atol, rtol=0., what=''):
    actual = actual.detach().cpu().numpy() if torch.is_tensor(actual) else np.asarray(actual)
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)

# --- parity with MMPose -------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', CODECS)
def test_encode_matches_mmpose(ref, name):
    enc = CODECS[name]().encode(*reference_inputs(ref, name))
    assert enc['heatmaps'].dtype == ref[f'{name}_heatmaps'].dtype and enc['keypoint_weights'].dtype == ref[f'{name}_weights'].dtype
    close(enc['heatmaps'], ref[f'{name}_heatmaps'], ENCODE_TOL)
    close(enc['keypoint_weights'], ref[f'{name}_weights'], ENCODE_TOL)

@pytest.mark.parametrize('name', CODECS)
def test_decode_matches_mmpose(ref, name):
    noisy = ref[f'{name}_noisy']
    keypoints, scores = CODECS[name]().decode(noisy.copy())
    assert keypoints.dtype == ref[f'{name}_decoded_keypoints'].dtype and scores.dtype == ref[f'{name}_decoded_scores'].dtype
    close(keypoints, ref[f'{name}_decoded_keypoints'], KEYPOINT_TOL)
    close(scores, ref[f'{name}_decoded_scores'], SCORE_TOL)
    np.testing.assert_array_equal(noisy, ref[f'{name}_noisy'])                   # the input is left alone

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', CODECS)
def test_encode_batch_matches_mmpose(ref, name, device):
    keypoints, visible = (torch.from_numpy(a).to(device) for a in reference_inputs(ref, name))
    enc = CODECS[name]().encode_batch(keypoints, visible)
    assert enc['heatmaps'].device.type == device and enc['heatmaps'].dtype == torch.float32
    close(enc['heatmaps'][0], ref[f'{name}_heatmaps'], ENCODE_TOL)
    close(enc['keypoint_weights'], ref[f'{name}_weights'], ENCODE_TOL)

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', CODECS)
def test_decode_batch_matches_mmpose(ref, name, device):
    keypoints, scores = CODECS[name]().decode_batch(torch.from_numpy(ref[f'{name}_noisy'])[None].to(device))
    assert keypoints.device.type == device and keypoints.shape == (1, 17, 2) and scores.shape == (1, 17)
    close(keypoints, ref[f'{name}_decoded_keypoints'], KEYPOINT_TOL)
    close(scores, ref[f'{name}_decoded_scores'], SCORE_TOL)

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('shift,key', [(True, 'flipped_shift'), (False, 'flipped_noshift')])
def test_flip_heatmaps_matches_mmpose(flip_ref, shift, key, device):
    heatmaps = torch.from_numpy(flip_ref['heatmaps']).to(device)
    close(flip_heatmaps(heatmaps, flip_ref['flip_indices'], 'heatmap', shift), flip_ref[key], 0)
    np.testing.assert_array_equal(heatmaps.cpu().numpy(), flip_ref['heatmaps'])    # MMPose's copies too; ours never writes

@pytest.mark.parametrize('device', DEVICES)
def test_flip_vectors_matches_mmpose(flip_ref, device):
    fx, fy = flip_vectors(*(torch.from_numpy(flip_ref[k]).to(device) for k in ('vx', 'vy')), flip_ref['flip_indices'])
    close(fx, flip_ref['fx'], 0); close(fy, flip_ref['fy'], 0)

@pytest.mark.parametrize('device', DEVICES)
def test_flip_coordinates_matches_mmpose(flip_ref, device):
    # MMPose's flip_coordinates writes `1 - x - 1/w` into its input before swapping, and the reference saved that
    # input afterwards: `coords` holds the mirrored x of the (unswapped) keypoints, so the original x is `1 - 1/w - x`.
    coords = torch.from_numpy(flip_ref['coords']).to(device)
    original = torch.cat((1 - 1 / 192 - coords[..., :1], coords[..., 1:]), -1)
    close(flip_coordinates(original, flip_ref['flip_indices'], True, (192, 256)), flip_ref['flipped_coords'], 1e-6)

# --- round trips ------------------------------------------------------------------------------------------------
def unit_keypoints(n=4):
    "Hypothesis strategy: float32 keypoints `(n, 17, 2)` in [0, 1], to be scaled to a region."
    return arrays(np.float32, (n, 17, 2), elements=st.floats(0, 1, width=32))

def both_paths(codec, keypoints, visible=None):
    "Decoded keypoints of each instance's own targets, by the numpy path (per instance) and by the torch path (batched)."
    numpy = np.concatenate([codec.decode(codec.encode(k[None], None if visible is None else visible[i:i + 1])['heatmaps'])[0]
                            for i, k in enumerate(keypoints)])
    batched = codec.decode_batch(codec.encode_batch(torch.from_numpy(keypoints), None if visible is None else torch.from_numpy(visible))['heatmaps'])[0]
    return numpy, batched.numpy()

def in_region(unit, low, high):
    "Keypoints `unit` in [0, 1] mapped to the box [low, high] (x, y)."
    return (np.asarray(low, np.float32) + unit * (np.asarray(high, np.float32) - low)).astype(np.float32)

@settings(max_examples=25, deadline=None)
@given(unit=unit_keypoints())
def test_msra_roundtrip_within_half_a_heatmap_pixel(unit):
    keypoints = in_region(unit, (0, 0), (189.99, 253.99))     # whose nearest heatmap pixel lies in the map
    for decoded in both_paths(MSRAHeatmap((192, 256), (48, 64), 2), keypoints):
        assert np.abs(decoded - keypoints).max() <= 0.5 * 4 + 1e-4

@settings(max_examples=25, deadline=None)
@given(unit=unit_keypoints())
def test_dark_roundtrip_within_a_tenth_of_a_pixel(unit):
    keypoints = in_region(unit, (20, 20), (168, 232))          # at least 5 heatmap pixels (the blur's radius) from the border
    for decoded in both_paths(MSRAHeatmap((192, 256), (48, 64), 2, unbiased=True), keypoints):
        assert np.abs(decoded - keypoints).max() <= 0.1

@settings(max_examples=25, deadline=None)
@given(unit=unit_keypoints(), combined=st.booleans())
def test_udp_roundtrip_within_a_tenth_of_a_pixel(unit, combined):
    # MMPose's UDP decoder scales by input_size / (heatmap_size - 1), its encoder by (input_size - 1) / (heatmap_size - 1):
    # decoded keypoints are the encoded ones times input_size / (input_size - 1), which its back-projection to the image expects
    stretch = np.array([192 / 191, 256 / 255])
    codec = UDPHeatmap((192, 256), (48, 64), heatmap_type='combined' if combined else 'gaussian')
    keypoints = in_region(unit, (0, 0), (191, 255)) if combined else in_region(unit, (20.4, 20.3), (170.6, 234.7))
    for decoded in both_paths(codec, keypoints):
        assert np.abs(decoded - keypoints * stretch).max() <= 0.1

@settings(max_examples=25, deadline=None)
@given(unit=unit_keypoints())
def test_megvii_roundtrip_within_three_quarters_of_a_heatmap_pixel(unit):
    keypoints = in_region(unit, (8, 8), (183.99, 247.99))      # truncation, a quarter and a half pixel; no steps at the border
    for decoded in both_paths(MegviiHeatmap((192, 256), (48, 64), 11), keypoints):
        assert np.abs(decoded - keypoints).max() <= 0.75 * 4 + 1e-4

# --- the torch path equals the numpy path -----------------------------------------------------------------------
PROPERTY_CODECS = [MSRAHeatmap((192, 256), (48, 64), 2), MSRAHeatmap((192, 256), (48, 64), 1.5), MSRAHeatmap((288, 384), (72, 96), 3),
                   MSRAHeatmap((192, 256), (48, 64), 2, unbiased=True), MSRAHeatmap((288, 384), (72, 96), 3, unbiased=True, blur_kernel_size=17),
                   UDPHeatmap((192, 256), (48, 64), sigma=2), UDPHeatmap((192, 256), (48, 64), heatmap_type='combined'),
                   MegviiHeatmap((192, 256), (48, 64), 11), MegviiHeatmap((192, 256), (48, 64), 5)]

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('codec', PROPERTY_CODECS, ids=lambda c: f'{type(c).__name__}-{c.__dict__.get("sigma", c.__dict__.get("kernel_size"))}-{c.__dict__.get("unbiased", c.__dict__.get("heatmap_type", ""))}')
@settings(max_examples=10, deadline=None)
@given(unit=unit_keypoints(6), seed=st.integers(0, 2 ** 32 - 1))
def test_batch_path_equals_numpy_path(codec, device, unit, seed):
    rng = np.random.default_rng(seed)
    w, h = codec.input_size
    keypoints = in_region(unit, (-30, -30), (w + 30, h + 30))                  # inside, on the border and outside
    visible = rng.choice(np.array([0, 0.3, 0.7, 1, 1, 1, 2], np.float32), keypoints.shape[:2])
    encoded = [codec.encode(k[None], v[None]) for k, v in zip(keypoints, visible)]
    batch = codec.encode_batch(torch.from_numpy(keypoints).to(device), torch.from_numpy(visible).to(device))
    heatmaps = np.stack([e['heatmaps'] for e in encoded])
    close(batch['heatmaps'], heatmaps, ENCODE_TOL, rtol=1e-6, what='heatmaps')  # rtol: Megvii's maps peak at 255
    close(batch['keypoint_weights'], np.concatenate([e['keypoint_weights'] for e in encoded]), 0, what='weights')
    noisy = (heatmaps + rng.normal(0, 0.02, heatmaps.shape) * heatmaps.max()).astype(np.float32)
    keypoints_np, scores_np = (np.concatenate(a) for a in zip(*[codec.decode(m) for m in noisy]))
    keypoints_b, scores_b = codec.decode_batch(torch.from_numpy(noisy).to(device))
    close(scores_b, scores_np, SCORE_TOL, rtol=1e-6, what='scores')
    # a map with no target, or only the tail of one outside the input, is noise or a slope, where DARK's Newton step is
    # ill-conditioned and amplifies the float rounding in the blur (OpenCV's summation order is its own)
    has_target = (visible >= 0.5) & ((keypoints >= 0) & (keypoints < [w, h])).all(-1)
    close(keypoints_b.cpu().numpy()[has_target], keypoints_np[has_target], KEYPOINT_TOL, what='keypoints')

@pytest.mark.parametrize('device', DEVICES)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), kernel=st.sampled_from([3, 5, 7, 11, 17]))
def test_batch_helpers_equal_numpy_helpers(device, seed, kernel):
    rng = np.random.default_rng(seed)
    K, H, W = 5, int(rng.integers(16, 70)), int(rng.integers(16, 70))
    centres = rng.uniform(4, [W - 5, H - 5], (K, 1, 1, 2))                       # peaks well inside: a well-posed Newton step
    peaks = np.exp(-((np.arange(W) - centres[..., 0]) ** 2 + (np.arange(H)[:, None] - centres[..., 1]) ** 2) / 8)
    heatmaps = (peaks + rng.normal(0, 0.01, (K, H, W))).astype(np.float32)
    tensor = torch.from_numpy(heatmaps)[None].to(device)
    locs, vals = get_heatmap_maximum(heatmaps)
    locs_b, vals_b = get_heatmap_maximum_batch(tensor)
    close(locs_b[0], locs, 0); close(vals_b[0], vals, 0)
    close(gaussian_blur_batch(tensor, kernel)[0], gaussian_blur(heatmaps, kernel), 1e-5)
    close(refine_keypoints_batch(locs_b, tensor)[0], refine_keypoints(locs[None], heatmaps)[0], 0)
    close(refine_keypoints_dark_batch(locs_b, tensor, kernel)[0], refine_keypoints_dark(locs[None], heatmaps, kernel)[0], 1e-3)
    close(refine_keypoints_dark_udp_batch(locs_b, tensor, kernel)[0], refine_keypoints_dark_udp(locs[None], heatmaps, kernel)[0], 1e-3)
    simcc = np.concatenate([heatmaps.max(1), heatmaps.max(2)], -1)[None].clip(0.01)      # (1, K, W + H), peaked
    simcc_t = torch.from_numpy(simcc).to(device)
    close(gaussian_blur1d_batch(simcc_t, kernel), gaussian_blur1d(simcc, kernel), 1e-5)
    x = get_simcc_maximum(simcc, simcc)[0][..., 0]
    close(refine_simcc_dark_batch(torch.from_numpy(x).to(device), simcc_t, kernel), refine_simcc_dark(x, simcc, kernel), 1e-3)
    for softmax in (False, True):
        for got, want in zip(get_simcc_maximum_batch(simcc_t, simcc_t[..., :W], softmax), get_simcc_maximum(simcc, simcc[..., :W], softmax)):
            close(got, want, 1e-6)

# --- behaviour ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', CODECS)
def test_empty_maps_decode_as_mmpose_does(name):
    "Maps with no positive value have no keypoint: location -1 (times the scale factor) and the peak value as score."
    codec = CODECS[name]()
    heatmaps = np.zeros(codec.encode(np.zeros((1, 17, 2), np.float32))['heatmaps'].shape, np.float32)
    keypoints, scores = codec.decode(heatmaps)
    keypoints_b, scores_b = codec.decode_batch(torch.from_numpy(heatmaps)[None])
    np.testing.assert_allclose(keypoints_b.numpy(), keypoints, atol=1e-4)
    np.testing.assert_array_equal(np.isnan(scores_b.numpy()), np.isnan(scores))     # Megvii: 0 / 0, like MMPose

def test_decode_batch_ignores_autocast_and_half_inputs():
    codec = MSRAHeatmap((192, 256), (48, 64), 2, unbiased=True)
    heatmaps = codec.encode_batch(torch.rand(3, 17, 2) * 150 + 20)['heatmaps']
    heatmaps = heatmaps + 0.01 * torch.randn_like(heatmaps)
    keypoints, _ = codec.decode_batch(heatmaps)
    with torch.autocast('cpu', dtype=torch.bfloat16): in_autocast, _ = codec.decode_batch(heatmaps)
    np.testing.assert_array_equal(in_autocast.numpy(), keypoints.numpy())
    assert codec.decode_batch(heatmaps.half())[0].dtype == torch.float32

def test_encode_takes_one_instance():
    with pytest.raises(PoseaiError, match='one instance'): MSRAHeatmap((192, 256), (48, 64), 2).encode(np.zeros((2, 17, 2), np.float32))
    with pytest.raises(PoseaiError, match='one instance'): MegviiHeatmap((192, 256), (48, 64), 11).encode(np.zeros((17, 2), np.float32))

def test_bad_arguments_are_named():
    with pytest.raises(PoseaiError, match="'gaussian' or 'combined'"): UDPHeatmap((192, 256), (48, 64), heatmap_type='offset')
    with pytest.raises(PoseaiError, match='odd'): gaussian_blur(np.zeros((1, 8, 8), np.float32), 4)
    with pytest.raises(PoseaiError, match='odd'): gaussian_blur_batch(torch.zeros(1, 1, 8, 8), 4)
    with pytest.raises(PoseaiError, match='flip_mode'): flip_heatmaps(torch.zeros(1, 17, 8, 8), COCO_FLIP, 'mirror')
    with pytest.raises(PoseaiError, match='flip indices'): flip_heatmaps(torch.zeros(1, 17, 8, 8), COCO_FLIP[:5])

def test_default_visibility_is_all_visible():
    keypoints = np.random.default_rng(0).uniform(0, 190, (1, 17, 2)).astype(np.float32)
    for make in CODECS.values():
        codec = make()
        np.testing.assert_array_equal(codec.encode(keypoints)['heatmaps'], codec.encode(keypoints, np.ones((1, 17), np.float32))['heatmaps'])
        close(codec.encode_batch(torch.from_numpy(keypoints))['keypoint_weights'], np.ones((1, 17)), 0)

def test_invisible_and_missing_keypoints_get_no_target():
    keypoints = np.array([[[50., 60.], [50., 60.], [-100., 60.], [50., 600.]]], np.float32)
    visible = np.array([[1., 0.3, 1., 1.]], np.float32)
    for make in CODECS.values():
        codec = make()
        if getattr(codec, 'heatmap_type', None) == 'combined': continue       # draws every visible keypoint and keeps the weights
        enc = codec.encode(keypoints, visible)
        assert enc['heatmaps'][0].max() > 0 and enc['heatmaps'][1:].max() == 0
        np.testing.assert_array_equal(enc['keypoint_weights'], np.array([[1, 0.3, 0, 0]], np.float32))   # invisible keeps its weight, off-map gets 0

@pytest.mark.parametrize('mode,group', [('heatmap', 1), ('udp_combined', 3), ('offset', 2)])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_flips_are_their_own_inverse(mode, group, seed):
    gen = torch.Generator().manual_seed(seed)
    heatmaps = torch.randn(2, 17 * group, 6, 5, generator=gen)
    twice = flip_heatmaps(flip_heatmaps(heatmaps, COCO_FLIP, mode, False), COCO_FLIP, mode, False)
    np.testing.assert_array_equal(twice.numpy(), heatmaps.numpy())
    coords = torch.rand(2, 17, 2, generator=gen)
    close(flip_coordinates(flip_coordinates(coords, COCO_FLIP, True, (192, 256)), COCO_FLIP, True, (192, 256)), coords.numpy(), 1e-6)
    vx, vy = torch.rand(2, 17, 12, generator=gen), torch.rand(2, 17, 16, generator=gen)
    for got, want in zip(flip_vectors(*flip_vectors(vx, vy, COCO_FLIP), COCO_FLIP), (vx, vy)): close(got, want.numpy(), 0)

def test_numpy_functions_leave_their_arguments_alone():
    rng = np.random.default_rng(0)
    heatmaps = rng.random((17, 64, 48)).astype(np.float32)
    keypoints, _ = get_heatmap_maximum(heatmaps)
    keypoints = keypoints[None]
    saved_h, saved_k = heatmaps.copy(), keypoints.copy()
    refine_keypoints(keypoints, heatmaps); refine_keypoints_dark(keypoints, heatmaps, 11)
    refine_keypoints_dark_udp(keypoints, heatmaps, 11); gaussian_blur(heatmaps, 11)
    np.testing.assert_array_equal(heatmaps, saved_h); np.testing.assert_array_equal(keypoints, saved_k)
