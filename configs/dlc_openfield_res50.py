# The DeepLabCut open-field mouse, SimpleBaseline ResNet-50 from scratch, 256x256: `poseai train configs/dlc_openfield_res50.py`
# (from the repository root). The tutorial nbs/61_tutorial_custom_dataset.ipynb trains this very config; every 10th frame is held out.
data_root = 'tutorial:dlc-openfield'   # wherever `tutorial_data('dlc-openfield')` finds it; downloaded (27 MB) if nowhere
model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(type='HeatmapHead', in_channels=2048, out_channels=4, loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)),
    test_cfg=dict(flip_test=True, shift_heatmap=True))
train = dict(type='RepeatDataset', times=50, dataset=dict(type='DeepLabCutDataset', project_dir=data_root, split='train', test_every=10))
valid = dict(type='DeepLabCutDataset', project_dir=data_root, split='test', test_every=10)
val_evaluator = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2), dict(type='AUC')]
input_size = (256, 256)
bs, lr, epochs, schedule = 64, 1e-3, 30, 'one_cycle'
workers, bf16, channels_last = 15, True, True
work_dir = 'work_dirs/dlc_openfield_res50'
