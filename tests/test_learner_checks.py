"A model that does not fit its data, or a monitor of a value nothing records, is a one-line `PoseaiError` when the learner is built, before any batch is trained."
import warnings
from pathlib import Path
import pytest, torch
from fastai.callback.core import Callback
from poseai.core import PoseaiError
from poseai.datasets import CocoDataset
from poseai.dataloaders import PoseDataLoaders
from poseai.estimators import build_pose_estimator
from poseai.synthetic import make_synthetic_coco
from poseai.learner import *

@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    "A synthetic COCO training set (12 images) and validation set (4 images)."
    root = tmp_path_factory.mktemp('synthetic')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return tuple(CocoDataset(make_synthetic_coco(root/split, n_images=n, seed=seed, progress=False), data_prefix=dict(img=root/split), test_mode=split == 'valid')
                     for split, n, seed in (('train', 12, 0), ('valid', 4, 1)))

def loaders(train_ds, valid_ds=None, input_size=(96, 128)):
    return PoseDataLoaders.from_datasets(train_ds, valid_ds, input_size=input_size, bs=4, seed=0, device=torch.device('cpu'))

def one_line_error(build):
    "The message of the `PoseaiError` that `build()` raises, checked to be one line."
    with pytest.raises(PoseaiError) as e: build()
    assert '\n' not in str(e.value)
    return str(e.value)

def test_a_model_that_fits_passes_and_keeps_its_mode(synthetic):
    model = build_pose_estimator(tiny_pose_config()).train()
    learn = pose_learner(loaders(*synthetic), model, cbs=SavePoseCheckpoint(monitor='AP'))
    assert learn.estimator.training
    assert learn.dls.train.input_size == (96, 128)

def test_a_head_for_other_keypoints_than_the_data(synthetic):
    assert one_line_error(lambda: pose_learner(loaders(*synthetic), tiny_pose_config(num_keypoints=14))) == \
        'head.out_channels is 14, the data has 17 keypoints: set model.head.out_channels=17'

def test_a_codec_for_other_crops_than_the_loaders(synthetic):
    "A 96x128 model on `from_datasets`' default 192x256 crops."
    message = one_line_error(lambda: pose_learner(loaders(*synthetic, input_size=(192, 256)), tiny_pose_config()))
    assert message.startswith("the codec's input_size is (96, 128), the loaders crop (192, 256): set model.head.decoder.input_size=(192, 256)"), message
    assert 'input_size=(96, 128) in PoseDataLoaders.from_datasets' in message

def test_a_run_config_without_the_models_input_size_stops_before_training(synthetic, tmp_path):
    "`train` of a 96x128 model with the run's default 192x256 input: the error names the run's `input_size` and nothing was trained or written."
    train_ds, valid_ds = synthetic
    run = dict(model=tiny_pose_config(), work_dir=str(tmp_path), device='cpu', epochs=1, bs=4,
               train=dict(type='CocoDataset', ann_file=str(train_ds.ann_file), data_prefix=dict(img=str(Path(train_ds.ann_file).parent))))
    assert "a run config's input_size" in one_line_error(lambda: train(run))
    assert not (tmp_path/'models').exists()

def test_a_codec_heatmap_size_other_than_the_models(synthetic):
    cfg = tiny_pose_config()
    cfg['head']['decoder']['heatmap_size'] = (48, 64)
    assert one_line_error(lambda: pose_learner(loaders(*synthetic), cfg)) == \
        'the model makes 24x32 heatmaps from 96x128 crops, the codec 48x64: set model.head.decoder.heatmap_size=(24, 32)'

def rtmpose_config(head_input_size):
    "A small CSPNeXt + RTMCCHead whose head is built for `head_input_size`, its codec for 96x128."
    return dict(type='TopdownPoseEstimator', backbone=dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.375, out_indices=(4,)),
                head=dict(type='RTMCCHead', in_channels=384, out_channels=17, input_size=head_input_size, in_featuremap_size=(3, 4),
                          gau_cfg=dict(hidden_dims=32, s=16, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
                          loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
                          decoder=dict(type='SimCCLabel', input_size=(96, 128), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False)),
                test_cfg=dict(flip_test=True), metainfo='coco')

def test_simcc_bins_other_than_the_codecs(synthetic):
    pose_learner(loaders(*synthetic), rtmpose_config((96, 128)))   # fits
    assert one_line_error(lambda: pose_learner(loaders(*synthetic), rtmpose_config((192, 256)))) == \
        "the model's SimCC vectors have 384 and 512 bins, the codec's 192 and 256: set model.head.input_size=(96, 128) and its simcc_split_ratio=2.0"

def test_a_model_that_cannot_run_on_the_crops(synthetic):
    "An RTMCCHead whose `in_featuremap_size` is not the backbone's: one line, not a matmul error from the first batch."
    cfg = rtmpose_config((96, 128))
    cfg['head']['in_featuremap_size'] = (6, 8)
    message = one_line_error(lambda: pose_learner(loaders(*synthetic), cfg))
    assert message.startswith("the model cannot run on the loaders' 96x128 crops") and 'in_featuremap_size' in message, message

class CountBatches(Callback):
    def __init__(self): self.n = 0
    def before_batch(self): self.n += 1

def test_a_monitor_without_a_validation_set(synthetic):
    "`SavePoseCheckpoint(monitor='AP')` with no validation set, given to the learner or to `fit`: no batch is trained (fastai said `IndexError: tuple index out of range`)."
    dls = loaders(synthetic[0])
    expected = "SavePoseCheckpoint monitors 'AP', but there is no validation set: give PoseDataLoaders.from_datasets a valid_ds (a run config's valid), or monitor='train_loss'"
    assert one_line_error(lambda: pose_learner(dls, tiny_pose_config(), cbs=SavePoseCheckpoint(monitor='AP'))) == expected
    learn, counter = pose_learner(dls, tiny_pose_config()), CountBatches()
    with learn.no_bar(), learn.no_logging():
        assert one_line_error(lambda: learn.fit(1, cbs=[counter, SavePoseCheckpoint(monitor='AP')])) == expected
    assert counter.n == 0
    pose_learner(dls, tiny_pose_config(), cbs=SavePoseCheckpoint(monitor='train_loss'))   # a value recorded without validation

def test_a_monitor_of_a_value_not_recorded(synthetic):
    assert one_line_error(lambda: pose_learner(loaders(*synthetic), tiny_pose_config(), cbs=SavePoseCheckpoint(monitor='APP'))) == \
        "SavePoseCheckpoint monitors 'APP', which the learner does not record (it records train_loss, valid_loss, train_acc_pose, AP, AP .5, AR)"
