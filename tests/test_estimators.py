"Top-down estimator: MMPose's reference models give MMPose's outputs; model-zoo state dicts; checkpoints; config files; errors."
import copy, json, os
import numpy as np, pytest, torch
from conftest import data_file, load_model_arrays
from poseai.core import PoseaiError
from poseai.heatmap_codecs import get_heatmap_maximum_batch
from poseai.estimators import *

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
# The reference models have no decoder in their configs; these are the codecs their keypoints were decoded with.
DECODERS = dict(HeatmapHead=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2),
                SimCCHead=dict(type='SimCCLabel', input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0),
                RLEHead=dict(type='RegressionLabel', input_size=(192, 256)))
FLIP_OUTPUTS = {'td-hm': ('heatmaps_flip_test',), 'simcc': ('simcc_x_flip_test', 'simcc_y_flip_test'), 'rle': ('coords_flip_test',)}
RAW_OUTPUTS = {'td-hm': ('heatmaps',), 'simcc': ('simcc_x', 'simcc_y'), 'rle': ('coords_sigma',)}
MODELS_DIR, MINI_DIR = ('reference', 'models'), ('mini_models',)
# MMPose's reference models (the ResNet-18 SimpleBaseline's checkpoint is in tests/data, the full-size others in ../shared only),
# and tests/data's small MMPose models of the same kinds (tests/data/make_mmpose_mini_models.py)
TINY = ['td-hm_res18-tiny', 'td-hm_hrnet-tiny', 'simcc_res18-tiny', 'rle_res18-tiny']
MINI = ['td-hm_hrnet-mini', 'simcc_res18-mini', 'rle_res18-mini']
NAMES = TINY + MINI

def reference(name, device='cpu'):
    "The reference estimator (config + decoder, checkpoint loaded strictly) on `device`, its arrays and its MANIFEST entry."
    folder = MINI_DIR if name in MINI else MODELS_DIR
    checkpoint = data_file(*folder, f'{name}.pth')
    entry = json.loads(data_file(*folder, 'MANIFEST.json').read_text())['models'][name]
    cfg = copy.deepcopy(entry['config'])
    cfg['head'].setdefault('decoder', DECODERS[cfg['head']['type']])
    est = build_pose_estimator(dict(cfg, metainfo='coco'))
    est.load_state_dict(torch.load(checkpoint, weights_only=True)['state_dict'], strict=True)
    return est.to(device).eval(), load_model_arrays(data_file(*folder, f'{name}.npz')), entry

def as_tuple(out): return out if isinstance(out, tuple) else (out,)

@pytest.fixture(autouse=True)
def full_float32():
    "Parity on CUDA needs full float32 convolutions: PyTorch runs them in TF32 by default."
    old = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = old

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', NAMES)
def test_raw_and_flip_test_outputs_match_mmpose(name, device):
    est, ref, _ = reference(name, device)
    kind = name.split('_')[0]
    x = torch.from_numpy(ref['input']).to(device)
    with torch.no_grad(): raw, fused = as_tuple(est(x)), as_tuple(est.fused_outputs(x))
    for out, key in zip(raw, RAW_OUTPUTS[kind]): np.testing.assert_allclose(out.cpu().numpy(), ref[key], atol=1e-4, rtol=0)
    for out, key in zip(fused, FLIP_OUTPUTS[kind]): np.testing.assert_allclose(out[..., :2].cpu().numpy() if kind == 'rle' else out.cpu().numpy(), ref[key], atol=1e-4, rtol=0)

@pytest.mark.parametrize('name', NAMES)
def test_decoding_mmpose_outputs_gives_mmpose_keypoints(name):
    "The decoder alone, on MMPose's own fused outputs, gives MMPose's keypoints and scores."
    est, ref, _ = reference(name)
    kind = name.split('_')[0]
    if kind == 'rle' and 'coords_sigma_flip_test' not in ref: pytest.skip('the full-size RLE reference stores only the fused coordinates, not the fused sigmas')
    fused = {'td-hm': ('heatmaps_flip_test',), 'simcc': FLIP_OUTPUTS['simcc'], 'rle': ('coords_sigma_flip_test',)}[kind]
    kpts, scores = est.head.decode(tuple(torch.from_numpy(ref[k]) for k in fused) if kind == 'simcc' else torch.from_numpy(ref[fused[0]]))
    np.testing.assert_allclose(kpts.numpy(), ref['keypoints'], atol=1e-2, rtol=0)
    np.testing.assert_allclose(scores.numpy(), ref['scores'], atol=1e-4, rtol=0)

def tied(heatmaps, kpts_a, kpts_b, scale=4, tol=1e-7):
    "Whether the heatmap values at two decoded peaks are equal to `tol` (an argmax tie)."
    at = lambda k: heatmaps[int(k[1] // scale), int(k[0] // scale)]
    return abs(at(kpts_a) - at(kpts_b)) <= tol

@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', NAMES)
def test_predicted_keypoints_and_scores_match_mmpose(name, device):
    """Flip-test keypoints to 1e-2 px and scores to 1e-4.

    The random-weight models' fused heatmaps are nearly flat, with peaks tied to 1e-9; our heatmaps match the reference to 5e-10
    on the CPU (and live MMPose 1.3.2 on this machine bit for bit, which differs from the reference file by the same 5e-10), so at
    a tie the argmax (or the quarter-pixel refinement) may pick another pixel of equal value: those keypoints are checked to be
    ties instead, to 1e-8 on the CPU and 1e-6 on CUDA. The full-size RLE reference's scores are
    those of the direct prediction (its keypoints are flip-tested); live MMPose's flip-test RLE scores equal ours, and rle_res18-mini's
    (made by MMPose's `predict`) are flip-tested."""
    est, ref, _ = reference(name, device)
    x = torch.from_numpy(ref['input']).to(device)
    kpts, scores = (t.cpu().numpy() for t in est.predict(x))
    if name == 'rle_res18-tiny': scores = est.predict(x, flip_test=False)[1].cpu().numpy()
    np.testing.assert_allclose(scores, ref['scores'], atol=1e-4, rtol=0)
    off = np.abs(kpts - ref['keypoints']).max(-1) > 1e-2
    print(f'{name} on {device}: {off.sum()} of {off.size} keypoints at a tie')
    for b, k in np.argwhere(off):
        tol = 1e-6 if device == 'cuda' else 1e-8   # cuDNN's float32 convolutions differ from the CPU's by about 1e-7
        assert name.startswith('td-hm') and tied(ref['heatmaps_flip_test'][b, k], kpts[b, k], ref['keypoints'][b, k], tol=tol), (b, k)

@pytest.mark.parametrize('name', NAMES)
def test_parameter_counts_match_manifest(name):
    est, _, entry = reference(name)
    assert sum(p.numel() for p in est.parameters()) == entry['params']

ZOO = {
    'td-hm_res50_coco-256x192': dict(backbone=dict(type='ResNet', depth=50), head=dict(type='HeatmapHead', in_channels=2048, out_channels=17)),
    'td-hm_hrnet-w32_coco-256x192': dict(backbone=dict(type='HRNet', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4,), num_channels=(64,)),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
        stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4), num_channels=(32, 64, 128)),
        stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4), num_channels=(32, 64, 128, 256)))),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17, deconv_out_channels=None)),
    'simcc_res50_coco-256x192': dict(backbone=dict(type='ResNet', depth=50), head=dict(type='SimCCHead', in_channels=2048, out_channels=17,
        input_size=(192, 256), in_featuremap_size=(6, 8), simcc_split_ratio=2.0)),
    'rle_res50_coco-256x192': dict(backbone=dict(type='ResNet', depth=50), neck=dict(type='GlobalAveragePooling'),
        head=dict(type='RLEHead', in_channels=2048, num_joints=17)),
}

@pytest.mark.parametrize('name', ZOO)
def test_model_zoo_state_dicts_have_mmpose_names_and_shapes(name):
    shapes = json.loads(data_file(*MODELS_DIR, 'model_zoo_state_dict_shapes.json').read_text())[name]
    est = build_pose_estimator(dict(type='TopdownPoseEstimator', **ZOO[name]))
    assert {k: list(v.shape) for k, v in est.state_dict().items()} == shapes

def test_checkpoint_round_trip_is_atomic_and_rebuilds(tmp_path):
    est, ref, _ = reference('td-hm_res18-tiny')
    path = save_pose_checkpoint(est, tmp_path / 'a' / 'model.pth', meta=dict(epoch=7))
    assert sorted(p.name for p in path.parent.iterdir()) == ['model.pth']
    again = init_pose_model(path)
    x = torch.from_numpy(ref['input'])
    with torch.no_grad(): assert torch.equal(est(x), again(x))
    assert torch.load(path, weights_only=False)['meta'] == dict(epoch=7)

def test_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    est, _, _ = reference('rle_res18-mini')
    path = save_pose_checkpoint(est, tmp_path / 'model.pth')
    before = path.read_bytes()
    def broken(*a, **k): raise OSError('disk full')
    monkeypatch.setattr(torch, 'save', broken)
    with pytest.raises(OSError, match='disk full'): save_pose_checkpoint(est, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ['model.pth']

def test_mmpose_python_config_and_checkpoint(tmp_path):
    est, ref, _ = reference('simcc_res18-mini')
    (tmp_path / 'cfg.py').write_text(f"_base_ = []\ncodec = {DECODERS['SimCCHead']!r}\nmodel = {est.config!r}\nmodel['head']['decoder'] = codec\n")
    loaded = init_pose_model(tmp_path / 'cfg.py', data_file(*MINI_DIR, 'simcc_res18-mini.pth'))
    x = torch.from_numpy(ref['input'])
    with torch.no_grad(): assert all(torch.equal(a, b) for a, b in zip(est(x), loaded(x)))

def test_wrong_checkpoint_lists_keys(tmp_path):
    est, _, _ = reference('simcc_res18-mini')
    with pytest.raises(PoseaiError, match='checkpoint does not fit TopdownPoseEstimator.*missing.*unexpected'):
        init_pose_model(est.config, data_file(*MINI_DIR, 'rle_res18-mini.pth'))
    with pytest.warns(UserWarning, match='checkpoint keys that do not fit'):
        model = init_pose_model(est.config, data_file(*MINI_DIR, 'rle_res18-mini.pth'), strict=False)
    assert model.load_report.missing and model.load_report.unexpected

@pytest.mark.parametrize('name, key', [('td-hm_res18-tiny', 'out_channels'), ('rle_res18-mini', 'num_joints')])
def test_checkpoint_of_other_keypoints_names_the_file_and_the_counts(name, key):
    "MMPose's 17-keypoint checkpoint offered to a 14-keypoint model (heatmap or regression head)."
    est, _, _ = reference(name)
    cfg = copy.deepcopy(est.config); cfg['head'][key] = 14
    path = data_file(*(MINI_DIR if name in MINI else MODELS_DIR), f'{name}.pth')
    with pytest.raises(PoseaiError, match=r'mismatched \(head\..*trained for 17 keypoints, this model has 14') as e: init_pose_model(cfg, path)
    assert e.value.file == path

def test_checkpoint_of_another_architecture_says_both(tmp_path):
    est, _, _ = reference('td-hm_res18-tiny')
    path = save_pose_checkpoint(est, tmp_path / 'res18.pth')
    deeper = copy.deepcopy(est.config); deeper['backbone']['depth'] = 34
    with pytest.raises(PoseaiError, match='missing.*the checkpoint is a ResNet depth=18 \\+ HeatmapHead, this model a ResNet depth=34') as e:
        init_pose_model(deeper, path)
    assert e.value.file == path

@pytest.mark.parametrize('keep', [0, 100, 5000, 0.5, -10])
def test_truncated_checkpoint_is_named(tmp_path, keep):
    "A checkpoint cut anywhere (empty, inside the header, the middle, the last bytes) names the file, as config-bearing file or as weights."
    est, _, _ = reference('td-hm_res18-tiny')
    whole = save_pose_checkpoint(est, tmp_path / 'whole.pth').read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(whole[:int(keep * len(whole)) if isinstance(keep, float) else keep])
    for load in (lambda: init_pose_model(cut), lambda: init_pose_model(est.config, cut)):
        with pytest.raises(PoseaiError, match='truncated or not a checkpoint') as e: load()
        assert e.value.file == cut

def test_files_that_are_not_checkpoints(tmp_path):
    (tmp_path / 'notes.pth').write_text('not a checkpoint')
    with pytest.raises(PoseaiError, match='truncated or not a checkpoint'): init_pose_model(tmp_path / 'notes.pth')
    torch.save(torch.zeros(3), tmp_path / 'tensor.pth')
    with pytest.raises(PoseaiError, match='has no config'): init_pose_model(tmp_path / 'tensor.pth')

def test_save_removes_what_a_killed_save_left(tmp_path):
    "A save killed mid-write leaves `.<name>.<random>.tmp`; the next save to that name removes it, other names' files stay."
    est, _, _ = reference('rle_res18-mini')
    (tmp_path / '.model.pth.abc123.tmp').write_bytes(b'half')
    (tmp_path / '.other.pth.abc123.tmp').write_bytes(b'half')
    save_pose_checkpoint(est, tmp_path / 'model.pth')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.other.pth.abc123.tmp', 'model.pth']

@pytest.mark.parametrize('write, message', [
    (lambda p: p.write_text("_base_ = ['../_base_/default_runtime.py']\nmodel = dict()\n"), '_base_ inheritance is not supported'),
    (lambda p: p.write_text("from mmengine.config import read_base\n"), 'cannot run the config'),
])
def test_unsupported_config_files(tmp_path, write, message):
    write(tmp_path / 'cfg.py')
    with pytest.raises(PoseaiError, match=message): init_pose_model(tmp_path / 'cfg.py')

def test_mmpose_checkpoint_without_config_says_what_to_do():
    with pytest.raises(PoseaiError, match='has no config'): init_pose_model(data_file(*MINI_DIR, 'rle_res18-mini.pth'))

def test_keypoints_to_image_inverts_the_crop():
    from poseai.core import get_warp_matrix
    center, scale = np.array([310., 220.]), np.array([150., 200.])
    warp = get_warp_matrix(center, scale, 0, (192, 256))
    pts = np.array([[250., 150.], [340., 300.]])
    in_crop = pts @ warp[:, :2].T + warp[:, 2]
    back = keypoints_to_image(torch.tensor(in_crop[None], dtype=torch.float64), center[None], scale[None], (192, 256))
    np.testing.assert_allclose(back[0].numpy(), pts, atol=1e-6)
