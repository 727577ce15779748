"Training with fastai: a tiny model learns on the synthetic data; validation equals the estimator's own prediction; checkpoints; metrics by dataset."
import json, warnings
from pathlib import Path
import numpy as np, pytest, torch
from conftest import data_file
from poseai.core import PoseaiError
from poseai.datasets import CocoDataset, LspDataset, DeepLabCutDataset
from poseai.dataloaders import PoseDataLoaders
from poseai.estimators import build_pose_estimator, init_pose_model, keypoints_to_image
from poseai.evaluation import AUC, CocoMetric, EPE, NME, PCKAccuracy
from poseai.synthetic import make_synthetic_coco
from poseai.learner import *

@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    "A synthetic COCO training set (160 images) and validation set (32 images)."
    root = tmp_path_factory.mktemp('synthetic')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return tuple(CocoDataset(make_synthetic_coco(root/split, n_images=n, seed=seed), data_prefix=dict(img=root/split), test_mode=split == 'valid')
                     for split, n, seed in (('train', 160, 0), ('valid', 32, 1)))

def loaders(train_ds, valid_ds, bs=16, seed=0):
    return PoseDataLoaders.from_datasets(train_ds, valid_ds, input_size=(96, 128), bs=bs, seed=seed, device=torch.device('cpu'))

def test_a_tiny_model_learns_on_the_synthetic_data(synthetic):
    "A few hundred steps lift PCK@0.2 far above the untrained model's, and AP off zero (a learning test, not a smoke test)."
    torch.manual_seed(0)
    dls = loaders(*synthetic)
    learn = pose_learner(dls, tiny_pose_config(), evaluators={**default_evaluators(synthetic[1]), PCKAccuracy(thr=0.2): ['PCK']})
    untrained = dict(zip(['valid_loss'] + [m.name for m in learn.metrics], learn.validate()))
    epochs = -(-300 // len(dls.train))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 3e-3)
    trained = dict(zip(learn.recorder.metric_names[1:-1], learn.recorder.values[-1]))
    assert epochs * len(dls.train) >= 300
    assert trained['PCK'] > untrained['PCK'] + 0.3 and trained['PCK'] > 0.5, (untrained, trained)
    assert trained['AP'] > untrained['AP'] and trained['valid_loss'] < untrained['valid_loss'], (untrained, trained)
    assert trained['train_acc_pose'] > 0.03

def test_validation_is_the_estimators_flip_test_prediction(synthetic):
    "The epoch metric equals CocoMetric over `estimator.predict` (flip test) mapped to the image, computed by hand."
    torch.manual_seed(0)
    dls = loaders(*synthetic, bs=8)
    learn = pose_learner(dls, tiny_pose_config(), evaluators={PCKAccuracy(thr=0.2): ['PCK'], EPE(): ['EPE']})
    pck, epe = learn.validate()[2:]
    model, by_id = learn.estimator.eval(), {r['id']: r for r in synthetic[1].data_list}
    ours, gts = [], []
    for xb, yb in dls.valid:
        kpts, _ = model.predict(xb, flip_test=True)
        ours.append(keypoints_to_image(kpts, yb['bbox_center'], yb['bbox_scale'], (96, 128)).numpy())
        gts += [by_id[int(i)] for i in yb['id']]
    pred, gt = np.concatenate(ours), np.stack([r['keypoints'][0] for r in gts])
    visible = np.stack([r['keypoints_visible'][0] for r in gts]) > 0
    distances = np.linalg.norm(pred - gt, axis=-1)
    assert epe == pytest.approx(distances[visible].mean(), rel=1e-5)
    size = np.stack([np.max(r['bbox'][0][2:] - r['bbox'][0][:2]) for r in gts])
    per_joint = [(distances[:, k][visible[:, k]] / size[visible[:, k]] < 0.2).mean() for k in range(17) if visible[:, k].any()]
    assert pck == pytest.approx(np.mean(per_joint), rel=1e-6)
    without_flip = pose_learner(dls, learn.estimator, evaluators={EPE(): ['EPE']}, flip_test=False).validate()[2]
    assert without_flip != pytest.approx(epe)

def test_metrics_by_dataset(synthetic):
    test_eq_types = lambda evaluators: [(type(m).__name__, names) for m, names in evaluators.items()]
    assert test_eq_types(default_evaluators(synthetic[1])) == [('CocoMetric', ['AP', 'AP .5', 'AR'])]
    lsp = LspDataset(data_file('lsp'), split='test', indices=5)
    assert test_eq_types(default_evaluators(lsp)) == [('PCKAccuracy', ['PCK']), ('AUC', ['AUC']), ('EPE', ['EPE'])]
    dlc = DeepLabCutDataset(data_file('dlc-openfield'))
    assert test_eq_types(default_evaluators(dlc))[0] == ('PCKAccuracy', ['PCK'])

def test_coco_ground_truth_is_the_datasets_images(synthetic):
    "A validation subset is scored on its own images: the metric's ground truth holds exactly the subset's images."
    ann = Path(synthetic[1].ann_file)
    subset = CocoDataset(ann, data_prefix=dict(img=ann.parent), test_mode=True, indices=5)
    metric = next(iter(default_evaluators(subset)))
    assert {img['id'] for img in metric.dataset['images']} == {r['img_id'] for r in subset.data_list}

def test_best_checkpoint_rebuilds_the_model_and_nothing_half_written(synthetic, tmp_path):
    torch.manual_seed(0)
    dls = loaders(*synthetic)
    dls.train.n = 32
    learn = pose_learner(dls, tiny_pose_config(), path=tmp_path, evaluators={EPE(): ['EPE']}, cbs=SavePoseCheckpoint(monitor='EPE', comp=np.less))
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    files = sorted(p.name for p in (tmp_path/'models').iterdir())
    assert files == ['pose_best.pth', 'pose_last.pth']          # no temporary file left behind
    best = torch.load(tmp_path/'models/pose_best.pth', weights_only=False)
    epes = [v[learn.recorder.metric_names[1:].index('EPE')] for v in learn.recorder.values]
    assert best['meta']['metrics']['EPE'] == min(epes) and 'optimizer' not in best
    model = init_pose_model(tmp_path/'models/pose_last.pth')
    for k, v in learn.estimator.state_dict().items(): assert torch.equal(model.state_dict()[k], v), k
    with pytest.raises(PoseaiError, match='no optimizer state'): learn.resume(tmp_path/'models/pose_best.pth')

def test_bad_runs_say_what_is_wrong(synthetic, tmp_path):
    dls = loaders(*synthetic)
    no_decoder = tiny_pose_config(); del no_decoder['head']['decoder']
    with pytest.raises(PoseaiError, match='no decoder'): pose_learner(dls, no_decoder)
    with pytest.raises(PoseaiError, match='no such run config'): train(tmp_path/'missing.json')
    with pytest.raises(PoseaiError, match="needs 'train'"): train(dict(model=tiny_pose_config()), work_dir=tmp_path)
    twice = [dict(r) for r in synthetic[1].data_list[:2]]; twice[1]['id'] = twice[0]['id']
    with pytest.raises(PoseaiError, match='appears twice'): PoseEvaluation({EPE(): ['EPE']}, twice)

DATA = Path(__file__).parent/'data'

@pytest.mark.parametrize('update_buffers', [True, False])
def test_ema_equals_mmposes_exp_momentum_ema(update_buffers):
    "Replaying the weights MMPose's ExpMomentumEMA averaged (momentum 0.01, gamma 20) gives its average exactly."
    ref = torch.load(DATA/'mmpose_ema.pt', weights_only=False)[update_buffers]
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    class Learn: estimator = net
    ema = EMA(momentum=0.01, gamma=20, update_buffers=update_buffers); ema.learn = Learn()
    ema.before_fit()
    for state in ref['states']:
        net.load_state_dict(state); ema.after_step()
    for k, v in ref['ema'].items(): assert torch.equal(ema.ema.state_dict()[k], v), k

def test_schedules_equal_mmengines():
    "Every iteration's rate of MMPose's top-down recipe (21 epochs of 40) and RTMPose's (40 of 60) equals MMEngine's."
    ref = np.load(DATA/'mmpose_schedules.npz')
    ours = [MMPoseLR().factor(i, 40, 21) for i in range(21 * 40)]
    np.testing.assert_allclose(ours, ref['mmpose'], rtol=0, atol=1e-14)
    ours = [rtmpose_lr().factor(i, 60, 40) for i in range(40 * 60)]
    np.testing.assert_allclose(ours, ref['rtmpose'], rtol=0, atol=1e-14)
