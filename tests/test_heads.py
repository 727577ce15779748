"Heads: MMPose 1.3.2's outputs, predictions (with flip test), losses and accuracies; parameter names; bad configs."
from pathlib import Path
import pytest, torch
from poseai.core import PoseaiError
from poseai.registry import MODELS, KEYPOINT_CODECS
from poseai.heads import *
from poseai.evaluation import keypoint_pck_accuracy

# Made by tests/data/make_mmpose_heads.py with MMPose 1.3.2 (peer venv): seeded small heads, their inputs and MMPose's results.
FIXTURE = torch.load(Path(__file__).parent / 'data/mmpose_heads.pt', weights_only=False)

def build(case):
    head = MODELS.build(case['config'])
    head.load_state_dict(case['state_dict'], strict=True)
    return head.eval()

def close(a, b, atol):
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(close(x, y, atol) for x, y in zip(a, b))
    return torch.allclose(torch.as_tensor(a).float(), torch.as_tensor(b).float(), atol=atol, rtol=0)

@pytest.mark.parametrize('name', FIXTURE)
def test_state_dict_names_match_mmpose(name):
    case = FIXTURE[name]
    head = MODELS.build(case['config'])
    assert list(head.state_dict()) == list(case['state_dict'])
    assert all(head.state_dict()[k].shape == v.shape for k, v in case['state_dict'].items())

@pytest.mark.parametrize('name', FIXTURE)
def test_forward_matches_mmpose(name):
    case = FIXTURE[name]
    with torch.no_grad(): assert close(build(case)(case['feats']), case['forward'], 1e-5)

@pytest.mark.parametrize('name', FIXTURE)
def test_predict_matches_mmpose(name):
    case = FIXTURE[name]
    head, test_cfg = build(case), dict(case['test_cfg'])
    flip_indices = [0, 2, 1, 4, 3]
    with torch.no_grad():
        plain = head.predict(case['feats'], **dict(test_cfg, flip_test=False))
        flipped = head.predict((case['feats'], case['feats_flip']), flip_indices=flip_indices, **test_cfg)
    for (kpts, scores), (ref_kpts, ref_scores) in ((plain, case['predict']), (flipped, case['predict_flip'])):
        assert close(kpts, ref_kpts, 1e-3) and close(scores, ref_scores, 1e-5)

@pytest.mark.parametrize('name', [n for n, c in FIXTURE.items() if 'loss' in c])
def test_loss_and_accuracy_match_mmpose(name):
    case = FIXTURE[name]
    head = build(case).train()
    losses = head.loss(case['feats'], case['targets'])
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert abs(losses['loss_kpt'].item() - case['loss']['loss_kpt']) <= 1e-5 * max(1, abs(case['loss']['loss_kpt']))
    assert abs(losses['acc_pose'].item() - case['loss']['acc_pose']) < 1e-6
    losses['loss_kpt'].backward()
    grads = [p.grad for p in head.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)

def test_pck_accuracy_hand_computed():
    gt = torch.tensor([[[10., 10.], [5., 5.]], [[20., 20.], [0., 0.]]])
    pred = gt + torch.tensor([[[0.04, 0.], [0., 0.]], [[0.06, 0.], [1., 0.]]])
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, torch.tensor([[True, True], [True, False]]), 0.05, torch.ones(2, 2))
    assert acc.tolist() == [0.5, 1.0] and float(avg) == 0.75 and cnt == 2
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, torch.zeros(2, 2, dtype=torch.bool), 0.05, torch.ones(2, 2))
    assert acc.tolist() == [-1., -1.] and float(avg) == 0 and cnt == 0
    # a zero normaliser masks the instance, as in MMPose
    acc, _, _ = keypoint_pck_accuracy(pred, gt, torch.ones(2, 2, dtype=torch.bool), 0.05, torch.tensor([[1., 1.], [0., 1.]]))
    assert acc.tolist() == [1.0, 1.0]

def test_target_weight_masks_the_loss():
    head = HeatmapHead(8, 3, deconv_out_channels=None)
    feats = (torch.randn(2, 8, 16, 12),)
    targets = dict(heatmaps=torch.rand(2, 3, 16, 12), keypoint_weights=torch.tensor([[1., 0., 1.], [1., 1., 0.]]))
    base = head.loss(feats, targets)['loss_kpt'].item()
    changed = dict(targets, heatmaps=targets['heatmaps'].clone())
    changed['heatmaps'][0, 1] = 5.; changed['heatmaps'][1, 2] = 5.       # only where the weight is 0
    assert head.loss(feats, changed)['loss_kpt'].item() == pytest.approx(base)

def test_flip_test_of_a_symmetric_input_is_symmetric():
    "A head on features of a mirror-symmetric input predicts mirror-symmetric keypoints with flip test."
    torch.manual_seed(0)
    head = HeatmapHead(4, 3, deconv_out_channels=None, decoder=dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2)).eval()
    f = torch.randn(1, 4, 16, 12)
    f = (f + f.flip(-1)) / 2
    kpts, _ = head.predict(((f,), (f,)), flip_test=True, flip_indices=[0, 2, 1])
    assert torch.allclose(kpts[0, 1, 1], kpts[0, 2, 1])

@pytest.mark.parametrize('make, message', [
    (lambda: HeatmapHead(8, 3, deconv_out_channels=(8, 8), deconv_kernel_sizes=(4,)), 'should be sequences of the same length'),
    (lambda: HeatmapHead(8, 3, deconv_out_channels=(8,), deconv_kernel_sizes=(5,)), 'deconv kernel size must be one of'),
    (lambda: HeatmapHead(8, 3, loss=dict(type='NoSuchLoss')), "'NoSuchLoss' is not registered"),
    (lambda: HeatmapHead(8, 3, decoder=dict(type='MSRAHeatmapp')), 'did you mean'),
    (lambda: CPMHead(8, 3, num_stages=3, loss=[dict(type='KeypointMSELoss')] * 2), '2 losses for 3 stages'),
    (lambda: SimCCHead(8, 3, (48, 64), (3, 4), deconv_type='transformer'), "deconv_type must be 'heatmap' or 'vipnas'"),
    (lambda: IntegralRegressionHead([8, 16], (3, 4), 3), 'takes one feature map'),
])
def test_bad_configs_raise_clear_errors(make, message):
    with pytest.raises(PoseaiError, match=message.replace('(', r'\(')): make()

def test_predict_errors():
    head = HeatmapHead(8, 3, deconv_out_channels=None, decoder=dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2))
    f = (torch.randn(1, 8, 16, 12),)
    with pytest.raises(PoseaiError, match='flip test needs flip_indices'): head.predict((f, f), flip_test=True)
    with pytest.raises(PoseaiError, match=r'feats = \(features, features of the mirrored input\)'): head.predict(f, flip_test=True, flip_indices=[0, 2, 1])
    with pytest.raises(PoseaiError, match='has no decoder'): HeatmapHead(8, 3, deconv_out_channels=None).predict(f)
