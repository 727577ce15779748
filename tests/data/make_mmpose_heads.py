"""Make tests/data/mmpose_heads.pt: small MMPose 1.3.2 heads (5 keypoints, 48x64 input) with seeded weights, their inputs, and what MMPose computes.

Run with the peer venv (shared/peer/install_mmpose.sh): ~/.cache/mmpose-peer/bin/python tests/data/make_mmpose_heads.py
For each case: the head config, its state dict, input features, `forward` outputs, `predict` keypoints/scores with and
without flip test (MMPose's test_cfg), and `loss` values (`loss_kpt`, `acc_pose`) on seeded targets.
"""
from pathlib import Path
import numpy as np, torch
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmpose.utils import register_all_modules

register_all_modules()
K, FLIP = 5, [0, 2, 1, 4, 3]   # nose and two left/right pairs keep the file small
IN = (48, 64)
MSRA = dict(type='MSRAHeatmap', input_size=IN, heatmap_size=(12, 16), sigma=2)
REG = dict(type='RegressionLabel', input_size=IN)
INTEGRAL = dict(type='IntegralRegressionLabel', input_size=IN, heatmap_size=(12, 16), sigma=2)
SIMCC = dict(type='SimCCLabel', input_size=IN, sigma=6.0, simcc_split_ratio=2.0)
HM_TEST = dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True)
CO_TEST = dict(flip_test=True, shift_coords=True)

# name: (head config, feature shapes (per stage, or nested for MSPN), test_cfg, targets kind)
CASES = {
    'heatmap': (dict(type='HeatmapHead', in_channels=16, out_channels=K, deconv_out_channels=(8, 8), deconv_kernel_sizes=(4, 3),
                     conv_out_channels=(8,), conv_kernel_sizes=(3,), decoder=MSRA), [(16, 4, 3)], HM_TEST, 'heatmaps'),
    'heatmap_1x1': (dict(type='HeatmapHead', in_channels=8, out_channels=K, deconv_out_channels=None, decoder=dict(MSRA, unbiased=True)),
                    [(4, 8, 6), (8, 16, 12)], HM_TEST, 'heatmaps'),
    'vipnas': (dict(type='ViPNASHead', in_channels=16, out_channels=K, deconv_out_channels=(16, 16), deconv_kernel_sizes=(4, 4),
                    deconv_num_groups=(4, 4), decoder=MSRA), [(16, 4, 3)], HM_TEST, 'heatmaps'),
    'cpm': (dict(type='CPMHead', in_channels=8, out_channels=K, num_stages=2, deconv_out_channels=(8,), deconv_kernel_sizes=(4,),
                 decoder=MSRA), [(8, 8, 6), (8, 8, 6)], HM_TEST, 'heatmaps'),
    'mspn': (dict(type='MSPNHead', num_stages=1, num_units=2, out_shape=(16, 12), unit_channels=8, out_channels=K, use_prm=True,
                  level_indices=[0, 1], decoder=MSRA), [[(8, 4, 3), (8, 8, 6)]], HM_TEST, None),
    'regression': (dict(type='RegressionHead', in_channels=32, num_joints=K, decoder=REG), [(32,)], CO_TEST, 'labels'),
    'rle': (dict(type='RLEHead', in_channels=32, num_joints=K, decoder=REG), [(32,)], CO_TEST, 'labels'),
    'integral': (dict(type='IntegralRegressionHead', in_channels=16, in_featuremap_size=(3, 4), num_joints=K, deconv_out_channels=(8, 8),
                      deconv_kernel_sizes=(4, 4), decoder=INTEGRAL), [(16, 4, 3)], dict(CO_TEST, shift_heatmap=True), 'labels'),
    'integral_debias': (dict(type='IntegralRegressionHead', in_channels=4, in_featuremap_size=(12, 16), num_joints=K, debias=True, beta=10.,
                             deconv_out_channels=None, decoder=INTEGRAL), [(4, 16, 12)], CO_TEST, 'labels'),
    'dsnt': (dict(type='DSNTHead', in_channels=4, in_featuremap_size=(12, 16), num_joints=K, deconv_out_channels=None, decoder=INTEGRAL),
             [(4, 16, 12)], CO_TEST, 'labels+heatmaps'),
    'simcc': (dict(type='SimCCHead', in_channels=16, out_channels=K, input_size=IN, in_featuremap_size=(3, 4), deconv_out_channels=None,
                   decoder=SIMCC), [(16, 4, 3)], dict(flip_test=True), 'simcc'),
    'simcc_vipnas': (dict(type='SimCCHead', in_channels=16, out_channels=K, input_size=IN, in_featuremap_size=(1, 1), deconv_type='vipnas',
                          deconv_out_channels=(8, 8, 8), deconv_num_groups=(4, 4, 4), decoder=dict(SIMCC, use_dark=True)),
                     [(16, 1, 1)], dict(flip_test=True), 'simcc'),
}

def make_feats(shapes, B, gen):
    if isinstance(shapes[0], list): return [make_feats(s, B, gen) for s in shapes]
    return tuple(torch.randn(B, *s, generator=gen) for s in shapes)

def samples(B, targets):
    out = []
    for i in range(B):
        s = PoseDataSample(metainfo=dict(flip_indices=FLIP, input_size=IN))
        labels = InstanceData()
        for k, v in targets.items():
            if k != 'heatmaps': setattr(labels, k, v[i:i + 1])
        s.gt_instance_labels = labels
        if 'heatmaps' in targets: s.gt_fields = PixelData(heatmaps=targets['heatmaps'][i])
        out.append(s)
    return out

def make_targets(kind, B, gen, outputs, hm_size=(12, 16)):
    "Seeded targets; about half the keypoints copy the prediction (nearly), so that `acc_pose` is neither 0 nor 1."
    weights = (torch.rand(B, K, generator=gen) > 0.2).float()
    near = torch.rand(B, K, generator=gen) > 0.5
    mix = lambda pred, other: torch.where(near.reshape(B, K, *[1] * (pred.ndim - 2)), pred.detach(), other)
    t = dict(keypoint_weights=weights)
    if kind == 'heatmaps': t['heatmaps'] = mix(outputs, torch.rand(B, K, hm_size[1], hm_size[0], generator=gen) ** 8)
    if 'labels' in kind:
        coords = outputs[0] if isinstance(outputs, tuple) else outputs
        t['keypoint_labels'] = mix(coords[..., :2] + 0.01, torch.rand(B, K, 2, generator=gen))
    if kind == 'labels+heatmaps': t['heatmaps'] = torch.rand(B, K, hm_size[1], hm_size[0], generator=gen).softmax(-1)
    if kind == 'simcc':
        t['keypoint_x_labels'] = mix(outputs[0].softmax(-1), torch.rand(B, K, 96, generator=gen).softmax(-1))
        t['keypoint_y_labels'] = mix(outputs[1].softmax(-1), torch.rand(B, K, 128, generator=gen).softmax(-1))
    return t

def main():
    out = {}
    for name, (cfg, shapes, test_cfg, kind) in CASES.items():
        gen = torch.Generator().manual_seed(len(name))
        torch.manual_seed(len(name))
        head = MODELS.build(cfg)
        with torch.no_grad():
            for p in head.parameters(): p.copy_(torch.randn(p.shape, generator=gen) * 0.1) if p.requires_grad else None
            for m in head.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1); m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
        head.eval()
        B = 2
        feats, feats_flip = make_feats(shapes, B, gen), make_feats(shapes, B, gen)
        case = dict(config=cfg, test_cfg=test_cfg, state_dict={k: v.clone() for k, v in head.state_dict().items()}, feats=feats, feats_flip=feats_flip)
        with torch.no_grad():
            case['forward'] = head.forward(feats)
            ds = samples(B, {})
            plain = head.predict(feats, ds, test_cfg=dict(test_cfg, flip_test=False))
            flipped = head.predict([feats, feats_flip], ds, test_cfg=test_cfg)
        for key, preds in (('predict', plain), ('predict_flip', flipped)):
            case[key] = (np.concatenate([p.keypoints for p in preds]), np.concatenate([p.keypoint_scores for p in preds]))
        if kind is not None:
            head.train()
            targets = make_targets(kind, B, gen, case['forward'][-1] if kind == 'heatmaps' and isinstance(case['forward'], list) else case['forward'], getattr(head, 'heatmap_size', (12, 16)))
            losses = head.loss(feats, samples(B, targets))
            case['targets'], case['loss'] = targets, {k: float(v.detach()) for k, v in losses.items()}
        out[name] = case
        print(name, {k: v for k, v in case.get('loss', {}).items()})
    torch.save(out, Path(__file__).with_name('mmpose_heads.pt'))

if __name__ == '__main__': main()
