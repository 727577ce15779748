# Leeds Sports Pose, SimpleBaseline ResNet-50 from scratch, 256x192: `poseai train configs/lsp_res50.py` (from the repository root).
# The tutorial nbs/60_tutorial_lsp.ipynb trains this very config. No pretrained weights: add
# `init_cfg=dict(type='Pretrained', checkpoint='path/to/resnet50.pth')` to the backbone to start from ImageNet weights.
data_root = 'tutorial:lsp'   # wherever `tutorial_data('lsp')` finds it ($POSEAI_DATA/lsp, ../shared/data/lsp, the cache); downloaded (35 MB) if nowhere
model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(type='HeatmapHead', in_channels=2048, out_channels=14, loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)),
    test_cfg=dict(flip_test=True, shift_heatmap=True))
train = dict(type='RepeatDataset', times=20, dataset=dict(type='LspDataset', root=data_root, split='train'))
valid = dict(type='LspDataset', root=data_root, split='test')
val_evaluator = [dict(type='LspPCKAccuracy', norm_item=['torso', 'bbox']), dict(type='AUC'), dict(type='EPE')]
input_size = (192, 256)
bs, lr, epochs, schedule = 64, 1e-3, 30, 'one_cycle'
workers, bf16, channels_last = 15, True, True
work_dir = 'work_dirs/lsp_res50'
