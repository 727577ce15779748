"Pose losses: values and gradients equal to MMPose's, hand-computed values, target-weight masking, gradients, bad input, RLE's flow checkpoint."
import json, math
from pathlib import Path
import numpy as np, pytest, torch
from conftest import data_file
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import load_checkpoint
from poseai.losses import *

# Inputs, values and gradients computed by live MMPose 1.3.2 (tests/data/make_mmpose_losses.py, run with the peer python).
DATA = np.load(Path(__file__).with_name('data') / 'mmpose_losses.npz')
CASES = {name: (cfg, keys, grad_at) for name, cfg, keys, grad_at in json.loads(str(DATA['cases']))}
# Where MMPose's gradient is NaN (JSDiscretLoss takes the log of an exact 0 at keypoints of weight 0) ours must be 0.
NAN_GRADS = {'js'}

def flow_state():
    "The flow weights the fixture gave MMPose's RLELoss: int8 codes / 8, in state-dict order."
    shapes = {k: v.shape for k, v in RealNVP().state_dict().items() if k.startswith(('s.', 't.'))}
    codes = torch.from_numpy(DATA['flow']).float().split([math.prod(s) for s in shapes.values()])
    return {k: c.reshape(s) / 8 for (k, s), c in zip(shapes.items(), codes)}

def arg(key):
    if key is None: return None
    if isinstance(key, list): return tuple(arg(k) for k in key)
    return torch.from_numpy(DATA[f'in/{key}']).clone()

def leaves(a): return list(a) if isinstance(a, (tuple, list)) else [a]

def run_case(name):
    "Our loss for fixture case `name`: its value and the gradients of `value.sum()` by input key."
    cfg, keys, grad_at = CASES[name]
    loss = MODELS.build(cfg)
    if cfg['type'] == 'RLELoss': loss.flow_model.load_state_dict(flow_state(), strict=False)
    args = [arg(k) for k in keys]
    for i in grad_at:
        for t in leaves(args[i]): t.requires_grad_(True)
    value = loss(*args)
    value.sum().backward()
    grads = {key: t.grad for i in grad_at for key, t in zip(leaves(keys[i]), leaves(args[i]))}
    return value.detach(), grads

def max_rel_diff(a, b): return float(((a - b).abs() / (1 + b.abs())).max())

@pytest.mark.parametrize('name', CASES)
def test_value_and_gradients_equal_mmpose(name):
    value, grads = run_case(name)
    expected = torch.from_numpy(DATA[f'out/{name}'])
    assert value.shape == expected.shape and max_rel_diff(value, expected) < 1e-6
    for key, grad in grads.items():
        want = torch.from_numpy(DATA[f'grad/{name}/{key}'])
        finite = want.isfinite()
        assert finite.all() or name in NAN_GRADS
        assert max_rel_diff(grad[finite], want[finite]) < 1e-6 and (grad[~finite] == 0).all()

def test_fixture_covers_every_loss():
    assert {cfg['type'] for cfg, _, _ in CASES.values()} == {
        'KeypointMSELoss', 'KeypointOHKMMSELoss', 'CombinedTargetMSELoss', 'AdaptiveWingLoss', 'L1Loss', 'MSELoss', 'SmoothL1Loss',
        'SoftWeightSmoothL1Loss', 'WingLoss', 'SoftWingLoss', 'MPJPELoss', 'RLELoss', 'KLDiscretLoss', 'JSDiscretLoss', 'BCELoss'}

def test_fixture_has_zero_weights_and_an_empty_channel():
    assert (DATA['in/hm_w'] == 0).any() and (DATA['in/xy_w'] == 0).any() and (DATA['in/s_w'] == 0).any()
    assert (DATA['in/hm_target'] == 0).all(axis=(2, 3)).any()
    assert DATA['out/kmse_skip'] != DATA['out/kmse']          # skip_empty_channel changed the value

# Hand-computed values on tiny tensors
E = math.e
@pytest.mark.parametrize('cfg,args,want', [
    (dict(type='KeypointMSELoss'), (torch.ones(1, 2, 1, 2), torch.tensor([[[[1., 0.]], [[0., 0.]]]])), 3 / 4),
    (dict(type='KeypointMSELoss', skip_empty_channel=True), (torch.ones(1, 2, 1, 2), torch.tensor([[[[1., 0.]], [[0., 0.]]]])), 1 / 4),
    (dict(type='KeypointOHKMMSELoss', topk=1), (torch.zeros(2, 2, 1, 1), torch.tensor([1., 2., 3., 1.]).view(2, 2, 1, 1), None), (4 + 9) / 2),
    (dict(type='CombinedTargetMSELoss', loss_weight=2.), (torch.zeros(1, 3, 1, 1), torch.tensor([2., 1., 1.]).view(1, 3, 1, 1), None), 4 + 4 + 4),
    (dict(type='AdaptiveWingLoss', alpha=2, omega=1, epsilon=1, theta=10), (torch.full((1, 1, 1, 1), E - 1), torch.zeros(1, 1, 1, 1)), math.log(1 + (E - 1) ** 2)),
    (dict(type='L1Loss', reduction='sum'), (torch.tensor([[[1., -2.]]]), torch.zeros(1, 1, 2)), 3.),
    (dict(type='MSELoss', loss_weight=0.5), (torch.tensor([[[1., -2.]]]), torch.zeros(1, 1, 2)), 1.25),
    (dict(type='SmoothL1Loss'), (torch.tensor([[[0.5, -3.]]]), torch.zeros(1, 1, 2)), (0.125 + 2.5) / 2),
    (dict(type='SoftWeightSmoothL1Loss', beta=2.), (torch.tensor([[[1., -3.]]]), torch.zeros(1, 1, 2)), (0.25 + 2) / 2),
    (dict(type='WingLoss', omega=2., epsilon=1.), (torch.tensor([[[E - 1, 5.]]]), torch.zeros(1, 1, 2)), 2 + 5 - 2 * (1 - math.log(3))),
    (dict(type='SoftWingLoss', omega1=1., omega2=1., epsilon=1.), (torch.tensor([[[0.5, E - 1]]]), torch.zeros(1, 1, 2)), 0.5 + 1 + 1 - math.log(2)),
    (dict(type='MPJPELoss'), (torch.tensor([[[3., 4.]], [[6., 8.]]]), torch.zeros(2, 1, 2)), 7.5),
    (dict(type='BCELoss', reduction='sum'), (torch.zeros(1, 2), torch.tensor([[1., 0.]])), 2 * math.log(2)),
    (dict(type='JSDiscretLoss', use_target_weight=False, size_average=False), (torch.tensor([1., 0.]).view(1, 1, 1, 2), torch.tensor([0.5, 0.5]).view(1, 1, 1, 2)),
     0.5 * (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2))),
])
def test_hand_computed_values(cfg, args, want):
    assert MODELS.build(cfg)(*args).item() == pytest.approx(want, rel=1e-6)

def test_kl_discret_hand_computed():
    logits, onehot = torch.zeros(2, 1, 4), torch.tensor([1., 0., 0., 0.]).expand(2, 1, 4)
    # log 4 in the label's bin, mean over 4 bins, two axes, two samples (summed), one keypoint
    assert KLDiscretLoss(use_target_weight=False)((logits, logits), (onehot, onehot), None).item() == pytest.approx(math.log(4), rel=1e-6)
    sharp = KLDiscretLoss(use_target_weight=False, beta=1e4)((torch.tensor([[[9., 0., 0., 0.]]]),) * 2, (onehot[:1],) * 2, None)
    assert sharp.item() == pytest.approx(0, abs=1e-6)

def test_rle_hand_computed():
    rle = RLELoss(use_target_weight=True, size_average=False)
    for p in rle.flow_model.parameters(): torch.nn.init.zeros_(p)   # identity flow: standard normal density
    pred, sigma, target = torch.tensor([[[1., 0.], [5., 5.]]]), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)
    error = torch.tensor([2., 0.])                                    # (pred - target) / sigmoid(0)
    log_phi = -math.log(2 * math.pi) - 0.5 * (error ** 2).sum()
    want = (2 * math.log(0.5) - 2 * log_phi + 2 * math.log(1) + error.abs().sum()).item()
    assert rle(pred, sigma, target, torch.tensor([[[1.], [0.]]])).item() == pytest.approx(want, rel=1e-6)

# use_target_weight: keypoints of weight 0 neither change the loss nor get gradient
def weighted_cases():
    hm, xy = torch.rand(2, 4, 3, 3), torch.randn(2, 4, 2)
    w = torch.tensor([[1., 0., 1., 1.], [0., 1., 0.5, 1.]])
    pred_hm = torch.rand(2, 4, 3, 3); pred_hm = pred_hm / pred_hm.sum((2, 3), keepdim=True)
    gt_hm = torch.rand(2, 4, 3, 3); gt_hm = gt_hm / gt_hm.sum((2, 3), keepdim=True)
    return {
        'KeypointMSELoss': (KeypointMSELoss(use_target_weight=True), [torch.rand(2, 4, 3, 3), hm, w], w),
        'KeypointOHKMMSELoss': (KeypointOHKMMSELoss(use_target_weight=True, topk=2), [torch.rand(2, 4, 3, 3), hm, w], w),
        'CombinedTargetMSELoss': (CombinedTargetMSELoss(use_target_weight=True), [torch.rand(2, 12, 3, 3), torch.rand(2, 12, 3, 3), w], w.repeat_interleave(3, 1)),
        'AdaptiveWingLoss': (AdaptiveWingLoss(use_target_weight=True), [torch.rand(2, 4, 3, 3), hm, w], w),
        'L1Loss': (L1Loss(use_target_weight=True), [torch.randn(2, 4, 2), xy, w], w),
        'MSELoss': (MSELoss(use_target_weight=True), [torch.randn(2, 4, 2), xy, w[..., None]], w),
        'SmoothL1Loss': (SmoothL1Loss(use_target_weight=True), [torch.randn(2, 4, 2), xy, w], w),
        'SoftWeightSmoothL1Loss': (SoftWeightSmoothL1Loss(use_target_weight=True), [torch.randn(2, 4, 2), xy, w], w),
        'WingLoss': (WingLoss(use_target_weight=True), [torch.randn(2, 4, 2) * 10, xy, w[..., None]], w),
        'SoftWingLoss': (SoftWingLoss(use_target_weight=True), [torch.randn(2, 4, 2) * 3, xy, w[..., None]], w),
        'MPJPELoss': (MPJPELoss(use_target_weight=True), [torch.randn(2, 4, 3), torch.randn(2, 4, 3), w[..., None]], w),
        'RLELoss': (RLELoss(use_target_weight=True), [torch.randn(2, 4, 2), torch.randn(2, 4, 2), xy, w[..., None]], w),
        'KLDiscretLoss': (KLDiscretLoss(), [(torch.randn(2, 4, 6), torch.randn(2, 4, 8)), (torch.rand(2, 4, 6), torch.rand(2, 4, 8)), w], w),
        'JSDiscretLoss': (JSDiscretLoss(), [pred_hm, gt_hm, w], w),
        'BCELoss': (BCELoss(use_target_weight=True), [torch.randn(2, 4), (torch.rand(2, 4) > 0.5).float(), w], w),
    }

@pytest.mark.parametrize('name', list(weighted_cases()))
def test_zero_weight_keypoints_are_ignored(name):
    torch.manual_seed(0)
    loss, args, w = weighted_cases()[name]
    preds = leaves(args[0])
    for p in preds: p.requires_grad_(True)
    value = loss(*args)
    value.backward()
    zeros = [(w == 0).reshape(*w.shape, *[1] * (p.ndim - w.ndim)).expand_as(p) for p in preds]
    for p, zero in zip(preds, zeros):
        assert p.grad.isfinite().all() and (p.grad[zero] == 0).all() and (p.grad[~zero] != 0).any()
    with torch.no_grad():
        moved = [torch.where(zero, p + 5, p) for p, zero in zip(preds, zeros)]
        moved = tuple(moved) if isinstance(args[0], tuple) else moved[0]
        if name == 'RLELoss': args = [moved, args[1] + zeros[0] * 5, *args[2:]]     # sigma logits too
        else: args = [moved, *args[1:]]
        assert loss(*args).item() == pytest.approx(value.item(), rel=1e-6)

@pytest.mark.parametrize('name', list(weighted_cases()))
def test_gradients_flow_without_weights(name):
    torch.manual_seed(1)
    loss, args, _ = weighted_cases()[name]
    loss.use_target_weight = False
    preds = leaves(args[0]) + ([args[1]] if name == 'RLELoss' else [])
    for p in preds: p.requires_grad_(True)
    loss(*args).backward()
    assert all(p.grad.isfinite().all() and (p.grad != 0).any() for p in preds)
    if name == 'RLELoss': assert all(p.grad is not None and (p.grad != 0).any() for p in loss.flow_model.parameters())

def test_keypoint_mse_weights_apply_whenever_given():
    # MMPose's KeypointMSELoss uses the weights it is given even with use_target_weight=False (its heads always give them)
    out, tgt, w = torch.ones(1, 2, 1, 1), torch.zeros(1, 2, 1, 1), torch.tensor([[1., 0.]])
    assert KeypointMSELoss()(out, tgt, w).item() == 0.5 == KeypointMSELoss(use_target_weight=True)(out, tgt, w).item()

def test_kl_discret_mask_scales_listed_keypoints():
    pred, gt, w = (torch.randn(2, 3, 5),) * 2, (torch.rand(2, 3, 5),) * 2, torch.ones(2, 3)
    per_kp = [KLDiscretLoss()(tuple(p[:, [k]] for p in pred), tuple(g[:, [k]] for g in gt), w[:, [k]]) for k in range(3)]
    masked = KLDiscretLoss(mask=[1], mask_weight=4.)(pred, gt, w)
    assert masked.item() == pytest.approx((per_kp[0] + 4 * per_kp[1] + per_kp[2]).item() / 3, rel=1e-6)

# Bad input: a PoseaiError saying what is wrong
@pytest.mark.parametrize('build,call,match', [
    (lambda: KeypointMSELoss(), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 4)), 'mismatched shapes'),
    (lambda: KeypointMSELoss(), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), torch.ones(1, 3)), 'target_weights of shape'),
    (lambda: KeypointMSELoss(), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), None, torch.ones(1, 2, 2, 3)), 'mask of shape'),
    (lambda: KeypointOHKMMSELoss(topk=3), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), None), 'topk'),
    (lambda: KeypointOHKMMSELoss(use_target_weight=True, topk=1), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), None), 'needs a target_weights'),
    (lambda: CombinedTargetMSELoss(), lambda l: l(torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 3), None), '3 channels per keypoint'),
    (lambda: AdaptiveWingLoss(use_target_weight=True), lambda l: l(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), torch.ones(2, 2)), 'does not fit'),
    (lambda: SmoothL1Loss(use_target_weight=True), lambda l: l(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2)), 'needs a target_weight'),
    (lambda: MSELoss(use_target_weight=True), lambda l: l(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2), torch.ones(2, 5)), r'\(N, K, 1\)'),
    (lambda: L1Loss(), lambda l: l(torch.zeros(2, 5, 2), torch.zeros(2, 5)), 'mismatched shapes'),
    (lambda: WingLoss(), lambda l: l(torch.zeros(5, 2), torch.zeros(5, 2)), r'\(N, K, D\)'),
    (lambda: MPJPELoss(use_target_weight=True), lambda l: l(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), torch.ones(2, 4, 1)), 'does not fit'),
    (lambda: RLELoss(), lambda l: l(torch.zeros(2, 5, 3), torch.zeros(2, 5, 3), torch.zeros(2, 5, 3)), r'\(N, K, 2\)'),
    (lambda: RLELoss(), lambda l: l(torch.zeros(2, 5, 2), torch.zeros(2, 5, 1), torch.zeros(2, 5, 2)), 'sigma and target'),
    (lambda: RLELoss(use_target_weight=True), lambda l: l(torch.zeros(2, 5, 2), torch.zeros(2, 5, 2), torch.zeros(2, 5, 2)), 'needs a target_weight'),
    (lambda: KLDiscretLoss(), lambda l: l((torch.zeros(2, 3, 4),) * 2, (torch.zeros(2, 3, 4),) * 2, torch.ones(2, 2)), r'\(2, 3\)'),
    (lambda: KLDiscretLoss(), lambda l: l((torch.zeros(2, 3, 4),) * 2, (torch.zeros(2, 3, 4),), torch.ones(2, 3)), 'axes'),
    (lambda: KLDiscretLoss(), lambda l: l((torch.zeros(2, 3, 4),) * 2, (torch.zeros(2, 3, 5),) * 2, torch.ones(2, 3)), 'mismatched'),
    (lambda: JSDiscretLoss(), lambda l: l(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)), 'needs a target_weight'),
    (lambda: BCELoss(use_target_weight=True), lambda l: l(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3)), 'does not fit'),
    (lambda: MultipleLossWrapper([dict(type='L1Loss')]), lambda l: l([torch.zeros(1, 1, 2)] * 2, [torch.zeros(1, 1, 2)] * 2), '1 losses'),
])
def test_bad_input_raises_poseai_error(build, call, match):
    with pytest.raises(PoseaiError, match=match): call(build())

@pytest.mark.parametrize('cfg,match', [
    (dict(type='L1Loss', reduction='avg'), 'reduction'), (dict(type='BCELoss', reduction='mean '), 'reduction'),
    (dict(type='RLELoss', q_distribution='cauchy'), 'q_distribution'), (dict(type='KeypointOHKMMSELoss', topk=0), 'topk'),
    (dict(type='WingLoss', omega_=1), 'cannot build'),
])
def test_bad_arguments_raise_poseai_error(cfg, match):
    with pytest.raises(PoseaiError, match=match): MODELS.build(cfg)

def test_wrappers_build_nested_losses():
    wrapper = MODELS.build(dict(type='MultipleLossWrapper', losses=[dict(type='L1Loss'), dict(type='MSELoss', loss_weight=2.)]))
    out = wrapper([torch.ones(1, 2, 2)] * 2, [torch.zeros(1, 2, 2)] * 2)
    assert [v.item() for v in out] == [1., 2.]
    combined = MODELS.build(dict(type='CombinedLoss', losses=dict(kpt=dict(type='KeypointMSELoss'), coord=dict(type='L1Loss'))))
    assert list(combined) == ['kpt', 'coord'] and isinstance(combined.kpt, KeypointMSELoss)

# RLE's flow: MMPose's parameter names, so a trained RLE checkpoint's flow loads strictly
def test_rle_flow_loads_strictly_from_mmpose_checkpoint():
    ckpt = torch.load(data_file('mini_models', 'rle_res18-mini.pth'), map_location='cpu', weights_only=False)['state_dict']
    prefix = 'head.loss_module.'
    state = {k[len(prefix):]: v for k, v in ckpt.items() if k.startswith(prefix)}
    rle = RLELoss()
    rle.load_state_dict(state, strict=True)
    assert load_checkpoint(RLELoss(), ckpt, prefix=prefix, strict=True) == ([], [], [])
    assert set(state) == set(rle.state_dict()) and all(torch.equal(v, rle.state_dict()[k]) for k, v in state.items())
    pred = torch.randn(2, 17, 2) * 0.1
    assert torch.isfinite(rle(pred, torch.zeros_like(pred), torch.zeros_like(pred)))

def test_rle_state_dict_names_match_mmpose():
    names = list(RLELoss().state_dict())
    assert names[:3] == ['flow_model.loc', 'flow_model.cov', 'flow_model.mask'] and len(names) == 3 + 2 * 6 * 6
    assert 'flow_model.s.0.0.weight' in names and 'flow_model.t.5.4.bias' in names and 'flow_model.s.5.4.bias' in names
