"Coordinate codecs: parity with MMPose 1.3.2 (`tests/data/reference/simcc_codecs.npz`, `regression_codecs.npz`) on the numpy and the torch path, round trips, torch == numpy."
import math
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from conftest import data_file
from poseai.core import PoseaiError
from poseai.coord_codecs import *
from poseai.heatmap_codecs import get_simcc_maximum

ENCODED, KEYPOINTS, SCORES = 1e-5, 1e-3, 1e-5        # the tolerances: encoded arrays, decoded keypoints (px), scores
SIMCC = dict(simcc_s6=dict(sigma=6), simcc_rtm=dict(sigma=(4.9, 5.66), normalize=False),
             simcc_standard=dict(smoothing_type='standard', label_smooth_weight=0.1), simcc_dark=dict(use_dark=True))
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
PATHS = ['numpy'] + [f'torch-{d}' for d in DEVICES]

@pytest.fixture(scope='module')
def simcc_ref(): return np.load(data_file('reference', 'simcc_codecs.npz'))

@pytest.fixture(scope='module')
def regression_ref(): return np.load(data_file('reference', 'regression_codecs.npz'))

def run(codec, method, path, *arrays):
    "Call `codec.method` on numpy `arrays` (numpy path) or on tensors on the path's device (`method_batch`); numpy results."
    if path == 'numpy': return getattr(codec, method)(*arrays)
    out = getattr(codec, f'{method}_batch')(*(torch.from_numpy(a).to(path.split('-')[1]) for a in arrays))
    return {k: v.cpu().numpy() for k, v in out.items()} if isinstance(out, dict) else tuple(v.cpu().numpy() for v in out)

def assert_matches(got, want, atol, path, name=''):
    "`got` within `atol` of MMPose's `want`; on the numpy path also of its dtype."
    np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=name)
    if path == 'numpy': assert got.dtype == want.dtype, f'{name}: {got.dtype} != {want.dtype}'

# --- parity with MMPose ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('name', SIMCC)
def test_simcc_matches_mmpose(simcc_ref, name, path):
    codec = SimCCLabel((192, 256), simcc_split_ratio=2.0, **SIMCC[name])
    enc = run(codec, 'encode', path, simcc_ref['keypoints'], simcc_ref['keypoints_visible'])
    for key, ref in (('keypoint_x_labels', 'x'), ('keypoint_y_labels', 'y'), ('keypoint_weights', 'weights')):
        assert_matches(enc[key], simcc_ref[f'{name}_{ref}'], ENCODED, path, f'{name}_{ref}')
    keypoints, scores = run(codec, 'decode', path, simcc_ref[f'{name}_noisy_x'], simcc_ref[f'{name}_noisy_y'])
    assert_matches(keypoints, simcc_ref[f'{name}_decoded_keypoints'], KEYPOINTS, path, f'{name}_decoded_keypoints')
    assert_matches(scores, simcc_ref[f'{name}_decoded_scores'], SCORES, path, f'{name}_decoded_scores')

@pytest.mark.parametrize('path', PATHS)
def test_regression_matches_mmpose(regression_ref, path):
    ref, codec = regression_ref, RegressionLabel((192, 256))
    enc = run(codec, 'encode', path, ref['keypoints'], ref['keypoints_visible'])
    assert_matches(enc['keypoint_labels'], ref['labels'], ENCODED, path, 'labels')
    assert_matches(enc['keypoint_weights'], ref['weights'], ENCODED, path, 'weights')
    keypoints, scores = run(codec, 'decode', path, ref['pred'])
    np.testing.assert_allclose(keypoints, ref['decoded_keypoints'], atol=KEYPOINTS, rtol=0)
    assert_matches(scores, ref['decoded_scores'], SCORES, path, 'decoded_scores')
    if path == 'numpy': assert keypoints.dtype == ref['decoded_keypoints'].dtype == np.float64   # MMPose decodes into float64

@pytest.mark.parametrize('path', PATHS)
def test_integral_regression_matches_mmpose(regression_ref, path):
    ref, codec = regression_ref, IntegralRegressionLabel((192, 256), (48, 64), sigma=2, normalize=True)
    enc = run(codec, 'encode', path, ref['keypoints'], ref['keypoints_visible'])
    heatmaps = enc['heatmaps'] if path == 'numpy' else enc['heatmaps'][0]     # (K, H, W) for one instance, (B, K, H, W) batched
    assert_matches(heatmaps, ref['integral_heatmaps'], ENCODED, path, 'integral_heatmaps')
    assert_matches(enc['keypoint_labels'], ref['integral_labels'], ENCODED, path, 'integral_labels')
    assert_matches(enc['keypoint_weights'], ref['integral_weights'], ENCODED, path, 'integral_weights')

# --- round trips ---------------------------------------------------------------------------------------------------
def inside_keypoints(n_max=20, size=(192, 256), margin=0):
    "Float32 keypoints `(1, K, 2)` inside an input of `size`, at least `margin` pixels from its borders."
    w, h = size
    return st.integers(1, n_max).flatmap(lambda k: st.tuples(
        arrays(np.float32, (1, k), elements=st.floats(margin, w - 1 - margin, width=32)),
        arrays(np.float32, (1, k), elements=st.floats(margin, h - 1 - margin, width=32))).map(lambda xy: np.stack(xy, -1)))

SIMCC_SETTINGS = [dict(simcc_split_ratio=r, sigma=s, smoothing_type=t, use_dark=d)
                  for r, s in ((1., 3.), (1.5, 4.5), (2., 6.), (3., 9.)) for t, d in (('gaussian', False), ('standard', False), ('gaussian', True))]

@settings(deadline=None, max_examples=60)
@given(data=st.data(), cfg=st.sampled_from(SIMCC_SETTINGS))
def test_simcc_round_trip_within_half_a_bin(data, cfg):
    "Within half a bin of the truth; with DARK only half a blur kernel from the borders, where the cut-off vectors bias it (as in MMPose)."
    codec = SimCCLabel((192, 256), **cfg)
    ratio = cfg['simcc_split_ratio']
    keypoints = data.draw(inside_keypoints(margin=math.ceil(max(codec.blur_kernel_size) // 2 / ratio) if cfg["use_dark"] else 0))
    bound = 0.5 / ratio + 1e-4
    for path in PATHS:
        enc = run(codec, 'encode', path, keypoints, np.ones(keypoints.shape[:2], np.float32))
        assert (enc['keypoint_weights'] == 1).all()
        decoded, _ = run(codec, 'decode', path, enc['keypoint_x_labels'], enc['keypoint_y_labels'])
        assert np.abs(decoded - keypoints).max() <= bound, (path, cfg)

@settings(deadline=None, max_examples=40)
@given(keypoints=arrays(np.float32, (2, 17, 2), elements=st.floats(-500, 500, width=32)))
def test_regression_round_trip_is_exact(keypoints):
    codec = RegressionLabel((192, 256))
    for path in PATHS:
        decoded, scores = run(codec, 'decode', path, run(codec, 'encode', path, keypoints)['keypoint_labels'])
        np.testing.assert_allclose(decoded, keypoints, rtol=1e-6, atol=1e-4, err_msg=path)
        assert (scores == 1).all()

@settings(deadline=None, max_examples=20)
@given(keypoints=inside_keypoints())
def test_integral_regression_round_trip(keypoints):
    codec = IntegralRegressionLabel((192, 256), (48, 64), sigma=2)
    for path in PATHS:
        enc = run(codec, 'encode', path, keypoints)
        np.testing.assert_allclose(run(codec, 'decode', path, enc['keypoint_labels'])[0], keypoints, rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(enc['heatmaps'].sum((-2, -1)), 1, atol=1e-5)      # inside keypoints: all maps are probability maps

# --- torch == numpy on random inputs -------------------------------------------------------------------------------
def random_batch(rng, b, k, size=(192, 256), margin=60):
    "Keypoints `(b, k, 2)` in and around an input of `size`, with visibilities from {0, 0.3, 1, 2} and a few exact half-bin ties."
    keypoints = (rng.uniform(-margin, 1, (b, k, 2)) + rng.uniform(0, 1, (b, k, 2)) * (np.array(size) + margin)).astype(np.float32)
    keypoints[:, :3] = [[0, 0], [size[0] - 1, size[1] - 1], [10.25, 20.75]]
    return keypoints, rng.choice(np.float32([0, 0.3, 1, 2]), (b, k), p=[0.2, 0.1, 0.6, 0.1])

SIMCC_ALL = [dict(), dict(sigma=(4.9, 5.66), normalize=False), dict(smoothing_type='standard'), dict(smoothing_type='standard', label_smooth_weight=0.1),
             dict(simcc_split_ratio=3., sigma=4), dict(simcc_split_ratio=1.5, sigma=2.5)]

@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), cfg=st.sampled_from(SIMCC_ALL))
def test_simcc_torch_equals_numpy(seed, cfg):
    rng = np.random.default_rng(seed)
    keypoints, visible = random_batch(rng, 4, 17)
    codec = SimCCLabel((192, 256), **cfg)
    want = codec.encode(keypoints, visible)
    noisy = [(want[k] + rng.normal(0, 0.02, want[k].shape)).astype(np.float32) for k in ('keypoint_x_labels', 'keypoint_y_labels')]
    decoded, scores = codec.decode(*noisy)
    for path in PATHS[1:]:
        got = run(codec, 'encode', path, keypoints, visible)
        for k in want: np.testing.assert_allclose(got[k], want[k], atol=ENCODED, rtol=0, err_msg=k)
        got_decoded, got_scores = run(codec, 'decode', path, *noisy)
        np.testing.assert_allclose(got_decoded, decoded, atol=KEYPOINTS, rtol=0)
        np.testing.assert_allclose(got_scores, scores, atol=SCORES, rtol=0)

@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), sigma=st.sampled_from([6., (4.9, 5.66), 3.]))
def test_simcc_dark_torch_equals_numpy_within_a_bin(seed, sigma):
    "DARK's Newton step magnifies rounding where it jumps further than a bin (flat or cut-off vectors): compare the rest."
    rng = np.random.default_rng(seed)
    codec = SimCCLabel((192, 256), sigma=sigma, use_dark=True)
    keypoints, visible = random_batch(rng, 4, 17)
    enc = codec.encode(keypoints, visible)
    noisy = [(enc[k] + rng.normal(0, 0.002, enc[k].shape)).astype(np.float32) for k in ('keypoint_x_labels', 'keypoint_y_labels')]
    decoded, scores = codec.decode(*noisy)
    sub_bin = np.abs(decoded - get_simcc_maximum(*noisy)[0] / 2) < 0.5
    for path in PATHS[1:]:
        got_decoded, got_scores = run(codec, 'decode', path, *noisy)
        np.testing.assert_allclose(got_decoded[sub_bin], decoded[sub_bin], atol=KEYPOINTS, rtol=0)
        np.testing.assert_allclose(got_scores, scores, atol=SCORES, rtol=0)

@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), normalize=st.booleans())
def test_regression_codecs_torch_equal_numpy(seed, normalize):
    rng = np.random.default_rng(seed)
    keypoints, visible = random_batch(rng, 3, 17)
    reg, integral = RegressionLabel((192, 256)), IntegralRegressionLabel((192, 256), (48, 64), sigma=2, normalize=normalize)
    for path in PATHS[1:]:
        got = run(reg, 'encode', path, keypoints, visible)
        for k, v in reg.encode(keypoints, visible).items(): np.testing.assert_allclose(got[k], v, atol=ENCODED, rtol=0)
        got = run(integral, 'encode', path, keypoints, visible)
        for i in range(len(keypoints)):
            want = integral.encode(keypoints[i:i+1], visible[i:i+1])
            np.testing.assert_allclose(got['heatmaps'][i], want['heatmaps'], atol=ENCODED, rtol=0)
            for k in ('keypoint_labels', 'keypoint_weights'): np.testing.assert_allclose(got[k][i:i+1], want[k], atol=ENCODED, rtol=0)
        outputs = rng.uniform(-0.2, 1.2, (3, 17, 4)).astype(np.float32)
        for d in (2, 4):
            for got_, want_ in zip(run(reg, 'decode', path, outputs[..., :d]), reg.decode(outputs[..., :d])):
                np.testing.assert_allclose(got_, want_, atol=KEYPOINTS, rtol=0)

# --- edges and bad input ---------------------------------------------------------------------------------------------
def test_simcc_weights_follow_mmpose():
    "Weights copy the visibility (2 stays 2, a hidden 0.3 stays 0.3) and are 0 for labelled keypoints whose label would be empty."
    keypoints = np.float32([[[50, 50], [50, 50], [50, 50], [-9, 5], [-10, 5], [192, 10]]])
    visible = np.float32([[2, 0.3, 0, 1, 1, 1]])
    weights = SimCCLabel((192, 256)).encode(keypoints, visible)['keypoint_weights']
    np.testing.assert_array_equal(weights, np.float32([[2, 0.3, 0, 1, 0, 1]]))                   # at -9 px the gaussian's 3 sigma still reach bin 0
    np.testing.assert_array_equal(SimCCLabel((192, 256), 'standard').encode(keypoints, visible)['keypoint_weights'], np.float32([[2, 0.3, 0, 0, 0, 0]]))

def test_simcc_decode_leaves_its_inputs_alone():
    "MMPose's DARK decode overwrites the caller's vectors with their blurred logs; ours does not."
    codec = SimCCLabel((192, 256), use_dark=True)
    enc = codec.encode(np.float32([[[60.3, 100.8]]]))
    x, y = enc['keypoint_x_labels'].copy(), enc['keypoint_y_labels'].copy()
    codec.decode(x, y)
    np.testing.assert_array_equal(x, enc['keypoint_x_labels']); np.testing.assert_array_equal(y, enc['keypoint_y_labels'])

def test_simcc_decodes_one_instance_without_its_axis():
    codec = SimCCLabel((192, 256))
    enc = codec.encode(np.float32([[[60.3, 100.8]]]))
    keypoints, scores = codec.decode(enc['keypoint_x_labels'][0], enc['keypoint_y_labels'][0])
    assert keypoints.shape == (1, 1, 2) and scores.shape == (1, 1)

def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match='smoothing_type'): SimCCLabel((192, 256), smoothing_type='laplace')
    with pytest.raises(ValueError, match='standard'): SimCCLabel((192, 256), label_smooth_weight=0.1)
    with pytest.raises(ValueError, match=r'\[0, 1\]'): SimCCLabel((192, 256), 'standard', label_smooth_weight=1.5)
    with pytest.raises(PoseaiError, match='got 3'): RegressionLabel((192, 256)).decode(np.zeros((1, 17, 3), np.float32))
    with pytest.raises(PoseaiError, match='got 3'): RegressionLabel((192, 256)).decode_batch(torch.zeros(1, 17, 3))

def test_simcc_dark_decodes_vectors_without_a_positive_value():
    "A keypoint decoded at -1 (no positive value): the torch refinement wraps index -1 round to the end, as numpy (and MMPose) do."
    rng = np.random.default_rng(0)
    x, y = (-np.abs(rng.normal(0.1, 0.02, (2, 3, n))).astype(np.float32) for n in (384, 512))
    codec = SimCCLabel((192, 256), use_dark=True)
    want = codec.decode(x, y)
    for path in PATHS[1:]:
        for got, ref in zip(run(codec, 'decode', path, x, y), want): np.testing.assert_allclose(got, ref, atol=KEYPOINTS, rtol=0)
