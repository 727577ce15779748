"""Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_losses.npz: MMPose's pose losses on small
seeded inputs (zero target weights, an empty heatmap channel), their values and the gradients of their predictions.

The npz holds `cases` (JSON: name, config, positional argument keys, which arguments get gradients), the inputs as `in/KEY`,
each case's value as `out/NAME` and gradients as `grad/NAME/KEY`. RLELoss's flow weights are `flow`, the int8 codes
of its `s.*`/`t.*` parameters in state-dict order, flattened (weight = code / 8, exact in float32): the state dict in 20 KB."""
import json
from pathlib import Path
import numpy as np, torch
from mmpose.registry import MODELS
from mmpose.utils import register_all_modules
register_all_modules()

rng = np.random.default_rng(0)
f32 = lambda a: np.asarray(a, dtype=np.float32)
def softmax(a, axis): e = np.exp(a - a.max(axis, keepdims=True)); return e / e.sum(axis, keepdims=True)

inputs = {}
# heatmaps: B=2, K=4, 3x3; channel (0, 1) of the target is empty, keypoint weights have zeros
hm_target = f32(rng.uniform(0, 1, (2, 4, 3, 3))); hm_target[0, 1] = 0
inputs.update(hm_out=f32(rng.normal(0.3, 0.4, (2, 4, 3, 3))), hm_target=hm_target,
              hm_w=f32([[1, 0, 0.5, 1], [0, 1, 1, 2]]), hm_pw=f32(rng.uniform(0, 1, (2, 4, 3, 3)) > 0.3),
              hm_mask=f32(rng.uniform(0, 1, (2, 1, 3, 3)) > 0.2))
# combined target (UDP's offset maps): B=2, K=2, channels heatmap, offset x, offset y
inputs.update(ct_out=f32(rng.normal(0, 0.5, (2, 6, 3, 3))), ct_target=f32(rng.uniform(-1, 1, (2, 6, 3, 3))), ct_w=f32([[1, 0], [0.5, 1]]))
# normalised heatmaps for JSDiscretLoss
inputs.update(js_pred=f32(softmax(rng.normal(0, 1, (2, 4, 9)), -1).reshape(2, 4, 3, 3)),
              js_gt=f32(softmax(rng.normal(0, 2, (2, 4, 9)), -1).reshape(2, 4, 3, 3)))
# coordinates: N=2, K=5, D=2; `wide` errors reach past Wing's omega and SoftWing's omega1
kw = f32([[1, 0, 1, 0.5, 1], [1, 1, 0, 1, 2]])
inputs.update(xy_out=f32(rng.normal(0, 1.5, (2, 5, 2))), xy_target=f32(rng.normal(0, 1.5, (2, 5, 2))), xy_w=kw, xy_w1=kw[..., None],
              wide_out=f32(rng.normal(0, 12, (2, 5, 2))), wide_target=f32(rng.normal(0, 4, (2, 5, 2))),
              xyz_out=f32(rng.normal(0, 1, (2, 5, 3))), xyz_target=f32(rng.normal(0, 1, (2, 5, 3))))
# RLE: predicted coordinates, sigma logits, targets
inputs.update(rle_pred=f32(rng.normal(0, 0.3, (2, 5, 2))), rle_sigma=f32(rng.normal(-1, 1, (2, 5, 2))), rle_target=f32(rng.normal(0, 0.3, (2, 5, 2))))
# SimCC: N=2, K=4, 12 x-bins and 16 y-bins
def simcc_label(n):
    mu = rng.uniform(2, n - 2, (2, 4, 1))
    return f32(np.exp(-(np.arange(n) - mu) ** 2 / 8))
inputs.update(sx=f32(rng.normal(0, 2, (2, 4, 12))), sy=f32(rng.normal(0, 2, (2, 4, 16))), gx=simcc_label(12), gy=simcc_label(16),
              s_w=f32([[1, 0, 1, 0.5], [0, 1, 1, 1]]))
# BCE: N=3 labels K=4
inputs.update(bce_logit=f32(rng.normal(0, 2, (3, 4))), bce_target=f32(rng.uniform(0, 1, (3, 4)) > 0.5), bce_w=f32([[1, 0, 1, 1], [0.5, 1, 1, 0], [1, 1, 2, 1]]),
              bce_w1=f32([1, 0, 0.5]))
inputs['bce_prob'] = f32(1 / (1 + np.exp(-inputs['bce_logit'])))

HM, HMW = ['hm_out', 'hm_target'], ['hm_out', 'hm_target', 'hm_w']
XY, XYW, XYW1 = ['xy_out', 'xy_target'], ['xy_out', 'xy_target', 'xy_w'], ['xy_out', 'xy_target', 'xy_w1']
WIDE, WIDEW1 = ['wide_out', 'wide_target'], ['wide_out', 'wide_target', 'xy_w1']
RLE = ['rle_pred', 'rle_sigma', 'rle_target', 'xy_w1']
SIM = [['sx', 'sy'], ['gx', 'gy'], 's_w']
CASES = [  # name, config, positional argument keys (a list: a tuple of tensors; None: None), indices of arguments that get gradients
    ('kmse', dict(type='KeypointMSELoss'), HM, [0]),
    ('kmse_w', dict(type='KeypointMSELoss', use_target_weight=True), HMW, [0]),
    ('kmse_pixel_w', dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.5), ['hm_out', 'hm_target', 'hm_pw'], [0]),
    ('kmse_skip', dict(type='KeypointMSELoss', skip_empty_channel=True), HM, [0]),
    ('kmse_skip_w_mask', dict(type='KeypointMSELoss', use_target_weight=True, skip_empty_channel=True), HMW + ['hm_mask'], [0]),
    ('kmse_mask', dict(type='KeypointMSELoss'), HM + [None, 'hm_mask'], [0]),
    ('ohkm', dict(type='KeypointOHKMMSELoss', topk=2), HMW, [0]),
    ('ohkm_w', dict(type='KeypointOHKMMSELoss', use_target_weight=True, topk=3, loss_weight=2.), HMW, [0]),
    ('ohkm_all', dict(type='KeypointOHKMMSELoss', use_target_weight=True, topk=4), HMW, [0]),
    ('ct', dict(type='CombinedTargetMSELoss'), ['ct_out', 'ct_target', 'ct_w'], [0]),
    ('ct_w', dict(type='CombinedTargetMSELoss', use_target_weight=True, loss_weight=0.5), ['ct_out', 'ct_target', 'ct_w'], [0]),
    ('awing', dict(type='AdaptiveWingLoss'), HM, [0]),
    ('awing_w', dict(type='AdaptiveWingLoss', use_target_weight=True), HMW, [0]),
    ('awing_pixel_w', dict(type='AdaptiveWingLoss', use_target_weight=True, alpha=2.5, omega=10, epsilon=0.5, theta=0.3, loss_weight=0.5),
     ['hm_out', 'hm_target', 'hm_pw'], [0]),
    ('l1', dict(type='L1Loss'), XY, [0]),
    ('l1_w_sum', dict(type='L1Loss', use_target_weight=True, reduction='sum'), XYW, [0]),
    ('l1_w_none', dict(type='L1Loss', use_target_weight=True, reduction='none', loss_weight=3.), XYW, [0]),
    ('mse', dict(type='MSELoss'), XY, [0]),
    ('mse_w', dict(type='MSELoss', use_target_weight=True, loss_weight=0.5), XYW1, [0]),
    ('smoothl1', dict(type='SmoothL1Loss'), XY, [0]),
    ('smoothl1_w', dict(type='SmoothL1Loss', use_target_weight=True, loss_weight=2.), XYW, [0]),
    ('swsl1', dict(type='SoftWeightSmoothL1Loss'), XY, [0]),
    ('swsl1_w', dict(type='SoftWeightSmoothL1Loss', use_target_weight=True, beta=0.5), XYW, [0]),
    ('swsl1_w_nonempty', dict(type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False, beta=2.), XYW, [0]),
    ('wing', dict(type='WingLoss'), WIDE, [0]),
    ('wing_w', dict(type='WingLoss', use_target_weight=True, omega=5., epsilon=1., loss_weight=0.5), WIDEW1, [0]),
    ('softwing', dict(type='SoftWingLoss'), WIDE, [0]),
    ('softwing_w', dict(type='SoftWingLoss', use_target_weight=True, omega1=3., omega2=10., epsilon=1.), WIDEW1, [0]),
    ('mpjpe', dict(type='MPJPELoss'), ['xyz_out', 'xyz_target'], [0]),
    ('mpjpe_w', dict(type='MPJPELoss', use_target_weight=True, loss_weight=2.), ['xyz_out', 'xyz_target', 'xy_w1'], [0]),
    ('rle', dict(type='RLELoss'), RLE[:3], [0, 1]),
    ('rle_w', dict(type='RLELoss', use_target_weight=True), RLE, [0, 1]),
    ('rle_gauss_sum', dict(type='RLELoss', use_target_weight=True, q_distribution='gaussian', size_average=False), RLE, [0, 1]),
    ('rle_nores', dict(type='RLELoss', residual=False), RLE[:3], [0, 1]),
    ('kl', dict(type='KLDiscretLoss'), SIM, [0]),
    ('kl_now', dict(type='KLDiscretLoss', use_target_weight=False, beta=10.), SIM, [0]),
    ('kl_softmax', dict(type='KLDiscretLoss', beta=10., label_softmax=True, label_beta=10.), SIM, [0]),
    ('kl_mask', dict(type='KLDiscretLoss', mask=[0, 2], mask_weight=2.5), SIM, [0]),
    ('js', dict(type='JSDiscretLoss'), ['js_pred', 'js_gt', 'hm_w'], [0]),
    ('js_now_sum', dict(type='JSDiscretLoss', use_target_weight=False, size_average=False), ['js_pred', 'js_gt'], [0]),
    ('bce', dict(type='BCELoss'), ['bce_logit', 'bce_target'], [0]),
    ('bce_w_sum', dict(type='BCELoss', use_target_weight=True, reduction='sum', loss_weight=0.5), ['bce_logit', 'bce_target', 'bce_w'], [0]),
    ('bce_w1_none', dict(type='BCELoss', use_target_weight=True, reduction='none'), ['bce_logit', 'bce_target', 'bce_w1'], [0]),
    ('bce_sigmoid', dict(type='BCELoss', use_sigmoid=True), ['bce_prob', 'bce_target'], [0]),
]

flow = MODELS.build(dict(type='RLELoss')).flow_model
shapes = {k: v.shape for k, v in flow.state_dict().items() if k.startswith(('s.', 't.'))}
flow_codes = rng.integers(-2, 3, sum(np.prod(v) for v in shapes.values())).astype(np.int8)
flow_state = dict(zip(shapes, (c.float().reshape(v) / 8 for c, v in zip(torch.from_numpy(flow_codes).split([np.prod(v) for v in shapes.values()]), shapes.values()))))

def arg(key):
    if key is None: return None
    if isinstance(key, list): return tuple(arg(k) for k in key)
    return torch.from_numpy(inputs[key]).clone()

def leaves(a): return list(a) if isinstance(a, (tuple, list)) else [a]

out = {f'in/{k}': v for k, v in inputs.items()} | dict(flow=flow_codes)
for name, cfg, keys, grad_at in CASES:
    loss = MODELS.build(cfg)
    if cfg['type'] == 'RLELoss': loss.flow_model.load_state_dict(flow_state, strict=False)
    args = [arg(k) for k in keys]
    for i in grad_at:
        for t in leaves(args[i]): t.requires_grad_(True)
    value = loss(*args)
    value.sum().backward()
    out[f'out/{name}'] = value.detach().numpy()
    for i in grad_at:
        for key, t in zip(leaves(keys[i]), leaves(args[i])): out[f'grad/{name}/{key}'] = t.grad.numpy()
out['cases'] = np.array(json.dumps(CASES))
np.savez_compressed(Path(__file__).with_name('mmpose_losses.npz'), **out)
