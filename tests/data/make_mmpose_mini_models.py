"""Make tests/data/mini_models: small MMPose 1.3.2 TopdownPoseEstimators (HRNet heatmaps, SimCC, RLE) with seeded weights, their
`{meta, state_dict}` checkpoints, what MMPose computes from them in eval mode, and MANIFEST.json.

Run with MMPose 1.3.2's python (a venv made by shared/peer/install_mmpose.sh): <venv>/bin/python tests/data/make_mmpose_mini_models.py
They stand in, in a fresh clone, for ../shared/reference/models' td-hm_hrnet-tiny, simcc_res18-tiny and rle_res18-tiny (9 and 3 MB):
the same kinds of model and config keys with fewer channels and blocks (HRNet keeps four stages, two modules in stages 3 and 4 and up to
four branches, so every fusion path runs). Input: the reference models' `input` (tests/data/reference/models/input.npy), not stored
again. Arrays as in the reference models' npz: raw head outputs, flip-test outputs (COCO flip indices; heatmaps shifted by one pixel
after flipping), and `TopdownPoseEstimator.predict`'s keypoints (input-space pixels, 192x256) and scores with the config's decoder.
"""
import copy, json, math
from pathlib import Path
import numpy as np, torch
from mmpose.models.utils.tta import flip_coordinates, flip_vectors
from mmpose.registry import MODELS
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample
from mmpose.utils import register_all_modules

register_all_modules()
DATA = Path(__file__).resolve().parent
OUT = DATA / 'mini_models'
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
IN = (192, 256)
PREPROCESSOR = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
RESNET = dict(type='ResNet', depth=18, stem_channels=8, base_channels=4)
HRNET = dict(type='HRNet', in_channels=3, extra=dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=[2], num_channels=[16]),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=[1, 1], num_channels=[4, 8]),
    stage3=dict(num_modules=2, num_branches=3, block='BASIC', num_blocks=[1, 1, 1], num_channels=[4, 8, 16]),
    stage4=dict(num_modules=2, num_branches=4, block='BASIC', num_blocks=[1, 1, 1, 1], num_channels=[4, 8, 16, 32])))
HM_TEST = dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True)
MODELS_CFG = {
    'td-hm_hrnet-mini': ('HRNet with the W32 layout cut down: stage 1 two Bottlenecks of 16 channels, stages 2-4 one BasicBlock per branch, '
                         '2 modules in stages 3 and 4, branch channels (4, 8, 16, 32); HeatmapHead with no deconv, 1x1 conv 4 -> 17; MSRAHeatmap decoder',
                         dict(backbone=HRNET, head=dict(type='HeatmapHead', in_channels=4, out_channels=17, deconv_out_channels=None,
                              loss=dict(type='KeypointMSELoss', use_target_weight=True),
                              decoder=dict(type='MSRAHeatmap', input_size=IN, heatmap_size=(48, 64), sigma=2)), test_cfg=HM_TEST)),
    'simcc_res18-mini': ('SimCC: ResNet-18 with stem_channels=8, base_channels=4, SimCCHead without deconv: 1x1 conv to 17, flatten 6x8, '
                         'Linear to 384 (x) and 512 (y) bins, split ratio 2; SimCCLabel decoder (sigma 6)',
                         dict(backbone=RESNET, head=dict(type='SimCCHead', in_channels=32, out_channels=17, input_size=IN, in_featuremap_size=(6, 8),
                              simcc_split_ratio=2.0, deconv_out_channels=None, loss=dict(type='KLDiscretLoss', use_target_weight=True),
                              decoder=dict(type='SimCCLabel', input_size=IN, sigma=6.0, simcc_split_ratio=2.0)), test_cfg=dict(flip_test=True))),
    'rle_res18-mini': ('RLE: ResNet-18 with stem_channels=8, base_channels=4, GlobalAveragePooling neck, RLEHead Linear(32 -> 17*4) '
                       '(x, y, sigma_x, sigma_y); RLELoss owns a RealNVP flow (as MMPose initialises it) whose weights are in the checkpoint; '
                       'RegressionLabel decoder',
                       dict(backbone=RESNET, neck=dict(type='GlobalAveragePooling'), head=dict(type='RLEHead', in_channels=32, num_joints=17,
                            loss=dict(type='RLELoss', use_target_weight=True), decoder=dict(type='RegressionLabel', input_size=IN)),
                            test_cfg=dict(flip_test=True, shift_coords=True))),
}

def randomize(model, g):
    "Seeded weights of useful scales (BatchNorm statistics too), so outputs are far from flat; RLE's flow keeps MMPose's init."
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype != torch.float32 or '.loss_module.' in name: continue
            if name.endswith('running_var'): v = torch.rand(t.shape, generator=g) + 0.5
            elif name.endswith(('running_mean', 'bias')): v = 0.2 * torch.randn(t.shape, generator=g)
            elif t.ndim == 1: v = 1 + 0.2 * torch.randn(t.shape, generator=g)
            else: v = torch.randn(t.shape, generator=g) / math.sqrt(t[0].numel())
            t.copy_(v)

def samples(n):
    "Data samples whose crop is the input itself, so that predicted keypoints are in input pixels."
    meta = dict(flip_indices=COCO_FLIP, input_size=IN, input_center=np.array([IN[0] / 2, IN[1] / 2]), input_scale=np.array(IN, np.float32))
    box = InstanceData(bboxes=np.array([[0, 0, *IN]], np.float32), bbox_scores=np.ones(1, np.float32))
    return [PoseDataSample(metainfo=meta, gt_instances=box) for _ in range(n)]

def assert_no_near_ties(logits, tol=1e-4):
    "Keypoints are argmaxes: no near-tie may decide them."
    top2 = logits.flatten(2).topk(2, -1).values
    assert (top2[..., 0] - top2[..., 1]).min() > tol, (top2[..., 0] - top2[..., 1]).min()

@torch.no_grad()
def outputs(model, x):
    "What MMPose computes: raw head outputs, flip-test outputs, predicted keypoints and scores."
    head, cfg = model.head, model.test_cfg
    feats, feats_flip = model.extract_feat(x), model.extract_feat(x.flip(-1))
    raw = head.forward(feats)
    if type(head).__name__ == 'HeatmapHead':
        fused = head.predict([feats, feats_flip], samples(len(x)), test_cfg=dict(cfg, output_heatmaps=True))[1]
        out = dict(heatmaps=raw, heatmaps_flip_test=torch.stack([f.heatmaps for f in fused]))
        assert_no_near_ties(out['heatmaps_flip_test'])
    elif type(head).__name__ == 'SimCCHead':   # as SimCCHead.predict
        flip_x, flip_y = flip_vectors(*head.forward(feats_flip), flip_indices=COCO_FLIP)
        out = dict(simcc_x=raw[0], simcc_y=raw[1], simcc_x_flip_test=(raw[0] + flip_x) / 2, simcc_y_flip_test=(raw[1] + flip_y) / 2)
        for k in ('simcc_x_flip_test', 'simcc_y_flip_test'): assert_no_near_ties(out[k])
    else:                                       # as RLEHead.predict: sigmas through a sigmoid, then averaged
        coords, flipped = raw.clone(), flip_coordinates(head.forward(feats_flip), flip_indices=COCO_FLIP, shift_coords=True, input_size=IN)
        coords[..., 2:], flipped[..., 2:] = coords[..., 2:].sigmoid(), flipped[..., 2:].sigmoid()
        fused = (coords + flipped) / 2
        out = dict(coords_sigma=raw, coords_flip_test=fused[..., :2], coords_sigma_flip_test=fused)
    preds = model.predict(x, samples(len(x)))
    out['keypoints'] = np.concatenate([p.pred_instances.keypoints for p in preds])
    out['scores'] = np.concatenate([p.pred_instances.keypoint_scores for p in preds])
    return {k: np.asarray(v, np.float32) for k, v in out.items()}

def main():
    OUT.mkdir(exist_ok=True)
    x = torch.from_numpy(np.load(DATA / 'reference' / 'models' / 'input.npy'))
    manifest = dict(doc='Each NAME.pth is an MMPose 1.3.2 checkpoint {meta, state_dict} of a TopdownPoseEstimator built from config (decoder '
                        'included); NAME.npz holds what MMPose computed in eval mode from the reference models\' input '
                        '(../reference/models/input.npy, 2x3x256x192, already mean/std normalised, RGB): raw head outputs, flip-test outputs '
                        '(COCO flip indices; heatmaps shifted by one pixel after flipping; RLE: sigmas through a sigmoid before averaging, '
                        'coords_flip_test its x, y), and TopdownPoseEstimator.predict\'s flip-test keypoints (input-space pixels, 192x256) and '
                        'scores. Made by ../make_mmpose_mini_models.py.', models={})
    for seed, (name, (doc, parts)) in enumerate(MODELS_CFG.items()):
        torch.manual_seed(seed)
        cfg = dict(type='TopdownPoseEstimator', data_preprocessor=PREPROCESSOR, **copy.deepcopy(parts))
        model = MODELS.build(copy.deepcopy(cfg))
        randomize(model, torch.Generator().manual_seed(seed))
        model.eval()
        arrays = outputs(model, x)
        torch.save(dict(meta=dict(mmpose_version='1.3.2', note=f'random weights, seed {seed}'), state_dict=model.state_dict()), OUT / f'{name}.pth')
        np.savez_compressed(OUT / f'{name}.npz', **arrays)
        manifest['models'][name] = dict(doc=doc, config=cfg, arrays={k: list(v.shape) for k, v in arrays.items()},
                                        params=sum(p.numel() for p in model.parameters()))
        print(name, manifest['models'][name]['params'], 'parameters')
    (OUT / 'MANIFEST.json').write_text(json.dumps(manifest, indent=1) + '\n')

if __name__ == '__main__': main()
