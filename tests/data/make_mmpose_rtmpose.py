"""Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_rtmpose.npz: a tiny RTMPose (CSPNeXt P5 + RTMCCHead),
and a GAU with relative position bias and RoPE, with seeded weights (int8s times powers of two, exact in float32, to keep the file small), their inputs (an 8-bit
image, scaled exactly to floats) and what MMPose computes from them (backbone outputs, head logits, predict() with and without flip
test, simcc_pck_accuracy)."""
import json, math
from pathlib import Path
import numpy as np, torch
from mmpose.registry import MODELS
from mmpose.utils import register_all_modules
from mmpose.structures import PoseDataSample
from mmpose.models.utils.rtmcc_block import RTMCCBlock
from mmpose.evaluation.functional import simcc_pck_accuracy
register_all_modules()

COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
CONFIGS = dict(
    backbone=dict(type='CSPNeXt', arch='P5', deepen_factor=0.33, widen_factor=0.03125, out_indices=(2, 3, 4)),
    head=dict(type='RTMCCHead', in_channels=32, out_channels=17, input_size=(48, 64), in_featuremap_size=(2, 2), simcc_split_ratio=2.0,
              final_layer_kernel_size=3, gau_cfg=dict(hidden_dims=8, s=4, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU',
                                                      use_rel_bias=False, pos_enc=False),
              decoder=dict(type='SimCCLabel', input_size=(48, 64), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False)),
    gau=dict(num_token=17, in_token_dims=8, out_token_dims=8, s=4, use_rel_bias=True, pos_enc=True, act_fn='ReLU'))

def randomize(model, g):
    "Seeded weights of useful scales (BN statistics too), each an int8 times a power of two: returns the int8s and the exponents."
    values, exponents = [], []
    for name, t in model.state_dict().items():
        if t.dtype == torch.float32:
            if name.endswith('running_var'): v = torch.rand(t.shape, generator=g) + 0.5
            elif name.endswith(('running_mean', 'bias', 'beta')): v = 0.2 * torch.randn(t.shape, generator=g)
            elif t.ndim <= 1 or name.endswith('gamma'): v = 1 + 0.2 * torch.randn(t.shape, generator=g)
            else: v = torch.randn(t.shape, generator=g) / math.sqrt(t[0].numel())
            e = math.floor(math.log2(127 / v.abs().max().item()))
            k = (v * 2.0 ** e).round().clamp(-127, 127)
            t.copy_(k * 2.0 ** -e)
        else: e, k = 0, t
        values.append(k.flatten().numpy().astype(np.int8)); exponents.append(e)
    return np.concatenate(values), np.array(exponents, np.int8)

def names(model): return np.bytes_('\n'.join(f'{k}:{tuple(v.shape)}' for k, v in model.state_dict().items()))

g = torch.Generator().manual_seed(0)
backbone, head = MODELS.build(CONFIGS['backbone']), MODELS.build(CONFIGS['head'])
gau = RTMCCBlock(**CONFIGS['gau'])
out = dict(configs=json.dumps(CONFIGS))
for key, m in dict(backbone=backbone, head=head, gau=gau).items():
    (out[f'{key}_values'], out[f'{key}_exponents']), out[f'{key}_names'] = randomize(m, g), names(m)
    m.eval()
image = torch.randint(0, 256, (2, 3, 64, 48), generator=g, dtype=torch.uint8)
x = (image.float() - 128) / 64
tokens = torch.randn(2, 17, 8, generator=g)
mask = torch.rand(2, 17, generator=g) > 0.3
with torch.no_grad():
    feats, feats_flip = backbone(x), backbone(x.flip(-1))
    pred_x, pred_y = head(feats)
    samples = [PoseDataSample(metainfo=dict(flip_indices=COCO_FLIP)) for _ in range(2)]
    plain = head.predict(feats, samples, test_cfg=dict(flip_test=False))
    flip = head.predict([feats, feats_flip], samples, test_cfg=dict(flip_test=True))
    for logits in (pred_x, pred_y):     # the keypoints are argmaxes: make sure no near-tie can flip them
        top2 = logits.topk(2, -1).values
        assert (top2[..., 0] - top2[..., 1]).min() > 1e-4
    gt_x = np.stack([np.roll(pred_x[:, k].numpy(), 3 * k, -1) for k in range(17)], 1)     # keypoint k's target 1.5 k pixels off in x
    acc, avg_acc, cnt = simcc_pck_accuracy((pred_x.numpy(), pred_y.numpy()), (gt_x, pred_y.numpy()), 2.0, mask.numpy())
    out.update(image=image.numpy(), tokens=tokens.numpy(), mask=mask.numpy(),
               **{f'backbone_out{i}': f.numpy() for i, f in enumerate(feats)}, pred_x=pred_x.numpy(), pred_y=pred_y.numpy(),
               keypoints=np.concatenate([p.keypoints for p in plain]), scores=np.concatenate([p.keypoint_scores for p in plain]),
               keypoints_flip=np.concatenate([p.keypoints for p in flip]), scores_flip=np.concatenate([p.keypoint_scores for p in flip]),
               gau_out=gau(tokens).numpy(),
               acc=acc, avg_acc=np.float64(avg_acc), cnt=np.int64(cnt))
np.savez_compressed(Path(__file__).with_name('mmpose_rtmpose.npz'), **out)
