"Export: ONNX (run by onnxruntime) equals PyTorch's predict for the reference models, runs without torch, any batch; TorchScript, torch.export; errors."
import json, subprocess, sys
import numpy as np, pytest, torch
from conftest import data_file, load_model_arrays
from test_estimators import reference, NAMES, MINI, MINI_DIR, MODELS_DIR
from poseai.core import PoseaiError
from poseai.dataloaders import IMAGENET_MEAN, IMAGENET_STD, PoseNormalize
from poseai.estimators import build_pose_estimator, save_pose_checkpoint
from poseai.registry import KEYPOINT_CODECS
from poseai.export import *

try: import onnx, onnxruntime as ort
except ImportError: ort = None
needs_ort = pytest.mark.skipif(ort is None, reason='onnx/onnxruntime are not installed (pip install "poseai[export]"): ONNX export is optional')

def crops_of(name):
    "The reference model's input (2 normalised images) turned back into the uint8 RGB crops `(2, 256, 192, 3)` the pipeline gives."
    x = load_model_arrays(data_file(*(MINI_DIR if name in MINI else MODELS_DIR), f'{name}.npz'))['input']
    return torch.from_numpy(x * np.array(IMAGENET_STD)[:, None, None] + np.array(IMAGENET_MEAN)[:, None, None]).round().clamp(0, 255).byte().permute(0, 2, 3, 1)

def three(crops): return torch.cat((crops, crops[:1].flip(2)))   # a batch of 3: the third is the first crop mirrored

def run_onnx(path, crops):
    return ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).run(['keypoints', 'scores'], {'crops': np.asarray(crops)})

# Flip test doubles the traced graph; HRNet's (1100 modules) takes most of this file's time to trace, so its file is exported without flip test:
# the flip-test path of the wrapper is the same for every model and is checked on the three ResNet-18 models.
FLIP_TEST = {name: not name.startswith('td-hm_hrnet') for name in NAMES}

@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    "The ONNX file of each reference model (exported at batch 1, once per module), by name."
    out, paths = tmp_path_factory.mktemp('onnx'), {}
    def get(name):
        if name not in paths: paths[name] = export_onnx(reference(name)[0], out / f'{name}.onnx', flip_test=FLIP_TEST[name])
        return paths[name]
    return get

def peak_pixel(kpt, scale): return tuple(int(v) for v in np.round(kpt[::-1] / scale))   # (row, col) of the argmax before the quarter-pixel step

def check_tie(heatmap, a, b, scale=4, tol=1e-8):
    """Keypoints `a` and `b` decoded from two runs differ only by an argmax tie or a tied quarter-pixel step on `heatmap` (the fused heatmap).

    With random weights the heatmaps are nearly flat (peaks ~1e-3); onnxruntime's convolutions differ from PyTorch's by ~1e-9 there, which
    picks another pixel where two are equal to 1e-9 (the HRNet reference model has such ties, see tests/test_estimators.py)."""
    pa, pb = peak_pixel(a, scale), peak_pixel(b, scale)
    if pa != pb: assert abs(heatmap[pa] - heatmap[pb]) <= tol, (pa, pb, heatmap[pa], heatmap[pb])
    else:
        (r, c), H, W = pa, *heatmap.shape
        steps = [heatmap[r, min(c + 1, W - 1)] - heatmap[r, max(c - 1, 0)], heatmap[min(r + 1, H - 1), c] - heatmap[max(r - 1, 0), c]]
        for axis in np.flatnonzero(np.abs(a - b) > 1e-4): assert abs(steps[axis]) <= tol, (pa, axis, steps[axis])

@needs_ort
@pytest.mark.parametrize('name', NAMES)
def test_onnx_equals_pytorch_predict(name, exported):
    "onnxruntime's keypoints and scores equal `predict` on the normalised crops to 1e-4 (+1e-6 relative; heatmap keypoints at argmax ties: checked as ties)."
    model = reference(name)[0]
    crops = three(crops_of(name))
    kpts, scores = run_onnx(exported(name), crops)
    with torch.no_grad(): fused = model.fused_outputs(PoseNormalize()((crops,))[0], flip_test=FLIP_TEST[name])
    expected_kpts, expected_scores = (t.numpy() for t in model.head.decode(fused))   # = predict, without running the model twice
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4, rtol=0)
    off = np.abs(kpts - expected_kpts).max(-1) > 1e-4 + 1e-6 * np.abs(expected_kpts).max(-1)   # and a few float32 ulps of coordinates of 100s of px
    print(f'{name} (flip test {FLIP_TEST[name]}): max |diff| keypoints {np.abs(kpts - expected_kpts)[~off].max():.1e} px ({off.sum()} of {off.size} at a tie), scores {np.abs(scores - expected_scores).max():.1e}')
    if off.any():
        assert name.startswith('td-hm'), 'only heatmap argmaxes can tie'
        for b, k in np.argwhere(off): check_tie(fused[b, k].numpy(), kpts[b, k], expected_kpts[b, k])

@needs_ort
def test_onnx_batch_is_dynamic(exported):
    "Exported with a batch of 1, the file runs a batch of 3, and the last crop gives what it gives alone."
    crops = three(crops_of('simcc_res18-mini'))
    path = exported('simcc_res18-mini')
    assert ort.InferenceSession(str(path)).get_inputs()[0].shape == ['batch', 256, 192, 3]
    kpts3, scores3 = run_onnx(path, crops)
    kpts1, scores1 = run_onnx(path, crops[2:])
    assert kpts3.shape == (3, 17, 2) and scores3.shape == (3, 17)
    np.testing.assert_allclose(kpts1, kpts3[2:], atol=1e-4, rtol=0); np.testing.assert_allclose(scores1, scores3[2:], atol=1e-4, rtol=0)

ONNX_ONLY = '''
import json, sys
import numpy as np, onnxruntime as ort
path, crops_file, out_file = sys.argv[1:]
session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
keypoints, scores = session.run(['keypoints', 'scores'], {'crops': np.load(crops_file)})
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'poseai', 'fastai'))
np.savez(out_file, keypoints=keypoints, scores=scores, input_size=meta['input_size'], loaded=np.array(loaded, dtype=str))
'''

@needs_ort
def test_onnx_file_runs_with_onnxruntime_and_numpy_alone(exported, tmp_path):
    "A fresh interpreter that imports only onnxruntime and numpy runs the file; torch and poseai are never loaded."
    crops = three(crops_of('td-hm_res18-tiny'))
    np.save(tmp_path / 'crops.npy', crops.numpy())
    subprocess.run([sys.executable, '-I', '-c', ONNX_ONLY, str(exported('td-hm_res18-tiny')), str(tmp_path / 'crops.npy'), str(tmp_path / 'out.npz')],
                   cwd=tmp_path, check=True, timeout=120)
    out = np.load(tmp_path / 'out.npz')
    assert list(out['loaded']) == [] and list(out['input_size']) == [192, 256]
    kpts, scores = run_onnx(exported('td-hm_res18-tiny'), crops)
    np.testing.assert_array_equal(out['keypoints'], kpts); np.testing.assert_array_equal(out['scores'], scores)

@needs_ort
def test_onnx_metadata(exported):
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(exported('rle_res18-mini'))).metadata_props}
    assert meta['input_size'] == [192, 256] and meta['flip_test'] and meta['mean'] == list(IMAGENET_MEAN) and meta['std'] == list(IMAGENET_STD)
    assert meta['keypoint_names'][:2] == ['nose', 'left_eye'] and len(meta['keypoint_names']) == 17

@needs_ort
def test_onnx_udp_decoder_static_batch_and_the_model_left_alone(tmp_path):
    "UDP decoding (blurs as constant matrix products) traces; `dynamic_batch=False` fixes the batch; the model passed in keeps its mode and gradients."
    model = reference('td-hm_res18-tiny')[0]
    model.head.decoder = KEYPOINT_CODECS.build(dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2))
    crops = crops_of('td-hm_res18-tiny')[:1]
    path = export_onnx(model.train(), tmp_path / 'udp.onnx', dynamic_batch=False)
    assert model.training and all(p.requires_grad for p in model.parameters())   # the export works on a frozen eval-mode copy
    assert ort.InferenceSession(str(path)).get_inputs()[0].shape == [1, 256, 192, 3]
    kpts, scores = run_onnx(path, crops)
    expected = model.eval().predict(PoseNormalize()((crops,))[0])
    np.testing.assert_allclose(kpts, expected[0].numpy(), atol=1e-4, rtol=0); np.testing.assert_allclose(scores, expected[1].numpy(), atol=1e-4, rtol=0)

def test_wrapper_is_predict_on_normalised_crops():
    model = reference('td-hm_res18-tiny')[0]
    crops = crops_of('td-hm_res18-tiny')
    wrapper = ExportWrapper(model)
    assert torch.equal(wrapper.normalise(crops), PoseNormalize()((crops,))[0])
    for got, expected in zip(wrapper(crops), model.predict(PoseNormalize()((crops,))[0])): assert torch.equal(got, expected)

def test_torchscript_from_a_checkpoint_equals_the_wrapper(tmp_path):
    "`export` (what `poseai export` runs) rebuilds the model from its checkpoint; the traced file gives the wrapper's numbers at any batch."
    model = reference('td-hm_res18-tiny')[0]
    crops = three(crops_of('td-hm_res18-tiny'))
    path = export_model(save_pose_checkpoint(model, tmp_path / 'model.pth'), tmp_path / 'model.ts.pt', format='torchscript')
    files = {'poseai.json': ''}
    traced = torch.jit.load(str(path), _extra_files=files)
    with torch.no_grad():
        for got, want in zip(traced(crops), ExportWrapper(model)(crops)): assert torch.equal(got, want)
    assert json.loads(files['poseai.json'])['input_size'] == [192, 256]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.pth', 'model.ts.pt']   # no temporary files left

def test_torch_export_program_equals_the_wrapper(tmp_path):
    model = reference('rle_res18-mini')[0]
    crops = three(crops_of('rle_res18-mini'))
    program = torch.export.load(str(export_program(model, tmp_path / 'model.pt2'))).module()
    for batch in (crops, crops[:1]):
        for got, want in zip(program(batch), ExportWrapper(model)(batch)): assert torch.equal(got, want)

def test_failed_export_keeps_the_old_file(tmp_path, monkeypatch):
    model = reference('rle_res18-mini')[0]
    path = tmp_path / 'model.ts'
    path.write_bytes(before := b'an earlier export')
    def broken(*a, **k): raise OSError('disk full')
    monkeypatch.setattr(torch.jit, 'save', broken)
    with pytest.raises(OSError, match='disk full'): export_torchscript(model, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ['model.ts']

def test_bad_input_raises_clear_errors(tmp_path):
    model = reference('rle_res18-mini')[0]
    no_decoder = build_pose_estimator(dict(model.config, head=dict(model.config['head'], decoder=None)))
    with pytest.raises(PoseaiError, match='RLEHead has no decoder'): export_torchscript(no_decoder, tmp_path / 'x.ts')
    with pytest.raises(PoseaiError, match='the folder .*missing.* does not exist'): export_torchscript(model, tmp_path / 'missing' / 'x.ts')
    with pytest.raises(PoseaiError, match=r'input_size \(256, 256\) differs from the \(192, 256\)'): export_torchscript(model, tmp_path / 'x.ts', input_size=(256, 256))
    no_meta = build_pose_estimator(dict(model.config, metainfo=None))
    with pytest.raises(PoseaiError, match='flip test needs flip_indices'): export_torchscript(no_meta, tmp_path / 'x.ts')
    with pytest.raises(PoseaiError, match="format must be one of"): export_model(model.config, tmp_path / 'x.onnx', format='tflite')
    assert list(tmp_path.iterdir()) == []

def test_missing_onnx_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'onnx', None)   # `import onnx` now raises ImportError
    with pytest.raises(PoseaiError, match=r'pip install "poseai\[export\]"'): export_onnx(reference('rle_res18-mini')[0], tmp_path / 'x.onnx')
