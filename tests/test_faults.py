"Faults: a killed save leaves a whole checkpoint, interrupted and killed runs resume to the end, a non-finite loss stops training naming its batch."
import json, multiprocessing, os, random, signal, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np, pytest, torch
from fastai.callback.core import Callback
from poseai.core import PoseaiError
from poseai.datasets import CocoDataset
from poseai.dataloaders import PoseDataLoaders
from poseai.estimators import build_pose_estimator, save_pose_checkpoint, init_pose_model
from poseai.synthetic import make_synthetic_coco
from poseai.learner import pose_learner, tiny_pose_config, SavePoseCheckpoint, train, data_rng_state
from poseai.faults import InterruptAt, StopOnNonFinite

INPUT = (64, 96)   # small crops keep every run here short

@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    "A synthetic COCO set of 16 images (at least 24 people) and its annotation file."
    root = tmp_path_factory.mktemp('faults')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ann = make_synthetic_coco(root, n_images=16, seed=0)
        return CocoDataset(ann, data_prefix=dict(img=root)), ann, root

def tiny_learner(ds, work_dir, cbs=()):
    "A tiny model on 24 people (3 batches an epoch) saving `pose_last.pth` each epoch, seeded alike every time."
    torch.manual_seed(1)
    dls = PoseDataLoaders.from_datasets(ds, None, input_size=INPUT, bs=8, seed=1, device=torch.device('cpu'))
    dls.train.n = 24
    return pose_learner(dls, tiny_pose_config(input_size=INPUT), path=work_dir, cbs=[SavePoseCheckpoint(monitor='train_loss'), *cbs])

def weights(learn): return {k: v.clone() for k, v in learn.estimator.state_dict().items()}

# --- a checkpoint on disk is always whole

_model = build_pose_estimator(tiny_pose_config())

def _save_forever(path, version):
    "Save versions `version`, `version + 1`, ... of a 40 MB checkpoint whose payload is filled with its version."
    torch.set_num_threads(1)   # a forked child must not enter the parent's OpenMP pool
    while True:
        save_pose_checkpoint(_model, path, meta=dict(version=version), payload=torch.from_numpy(np.full(10_000_000, version, np.float32)))
        version += 1

def test_checkpoint_killed_mid_write_is_the_old_or_the_new_one_whole(tmp_path):
    "Six SIGKILLs at random moments of a writer saving to one name: each time the file loads, whole, and one save removes the leftovers."
    path, version, rng, left = tmp_path/'pose_last.pth', 0, random.Random(0), []
    save_pose_checkpoint(_model, path, meta=dict(version=-1), payload=torch.full((10,), -1.))
    for _ in range(6):
        landed = path.stat().st_mtime_ns
        writer = multiprocessing.get_context('fork').Process(target=_save_forever, args=(path, version))
        writer.start()
        deadline = time.time() + 30
        while path.stat().st_mtime_ns == landed and time.time() < deadline: time.sleep(0.01)   # a version of this writer landed
        time.sleep(rng.uniform(0, 0.3))
        writer.kill(); writer.join()
        assert writer.exitcode == -signal.SIGKILL
        left.append(len(list(tmp_path.glob('.pose_last.pth.*.tmp'))))
        saved = torch.load(path, weights_only=False)   # never a partial file at the name
        assert saved['meta']['version'] >= version
        version = saved['meta']['version']
        assert np.unique(saved['payload'].numpy()).tolist() == [version]   # one version, whole
        version += 1
    assert version >= 6 and any(left)   # every writer saved at least once, and kills did land mid-write
    assert max(left) == 1   # each writer cleaned up what the previous kill left
    save_pose_checkpoint(_model, path)
    assert [p.name for p in tmp_path.iterdir()] == ['pose_last.pth']

# --- resuming

def test_ctrl_c_mid_epoch_then_resume_ends_like_an_uninterrupted_run(coco, tmp_path):
    "KeyboardInterrupt in the middle of epoch 1; the same learner resumes from epoch 0's checkpoint and ends with the straight run's weights."
    ds = coco[0]
    straight = tiny_learner(ds, tmp_path/'straight')
    with straight.no_bar(), straight.no_logging(): straight.fit_one_cycle(3, 2e-3)
    learn = tiny_learner(ds, tmp_path/'stopped', cbs=[InterruptAt(epoch=1, iter=1)])
    with learn.no_bar(), learn.no_logging():
        with pytest.raises(KeyboardInterrupt, match='epoch 1, iteration 1'): learn.fit_one_cycle(3, 2e-3)
        stopped = weights(learn)
        learn.remove_cb(InterruptAt)
        start = learn.resume(tmp_path/'stopped/models/pose_last.pth')
        assert start == 1
        learn.fit_one_cycle(3, 2e-3, start_epoch=start)
    assert any((stopped[k] != v).any() for k, v in weights(straight).items())
    for k, v in weights(straight).items(): assert torch.equal(weights(learn)[k], v), k
    assert torch.load(tmp_path/'stopped/models/pose_last.pth', weights_only=False)['epoch'] == 2

TRAIN_SCRIPT = '''
import sys, json, torch
torch.set_num_threads(1)
from poseai.learner import train
train(json.loads(sys.argv[1]))
'''

def test_killed_training_process_resumes_and_finishes(coco, tmp_path):
    "`train` in a process killed with SIGKILL after its first checkpoint; `train(run, resume=True)` runs the remaining epochs."
    _, ann, root = coco
    run = dict(model=tiny_pose_config(input_size=INPUT), train=dict(type='CocoDataset', ann_file=str(ann), data_prefix=dict(img=str(root)), indices=24),
               input_size=INPUT, bs=8, epochs=6, schedule='one_cycle', lr=2e-3, device='cpu', work_dir=str(tmp_path/'run'))
    last = tmp_path/'run/models/pose_last.pth'
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, '-c', TRAIN_SCRIPT, json.dumps(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not last.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.05)
        time.sleep(random.Random(0).uniform(0, 0.5))
        assert proc.poll() is None and last.exists(), f'the run ended before its first checkpoint or was not killed: {proc.stderr.read().decode()[-2000:]}'
        proc.send_signal(signal.SIGKILL)
    finally: proc.kill(); proc.wait()
    done = torch.load(last, weights_only=False)['epoch']
    assert done < run['epochs'] - 1
    learn = train(run, resume=True)
    saved = torch.load(last, weights_only=False)
    assert saved['epoch'] == saved['meta']['epoch'] == run['epochs'] - 1
    history = json.loads((tmp_path/'run/history.json').read_text())
    assert len(history) == run['epochs'] - 1 - done   # the resumed run trained exactly the epochs left
    assert all(np.isfinite(h['train_loss']) for h in history)

def test_resume_from_a_bad_checkpoint_names_the_file(coco, tmp_path):
    learn = tiny_learner(coco[0], tmp_path)
    (tmp_path/'cut.pth').write_bytes(b'PK\x03\x04 cut short')
    with pytest.raises(PoseaiError, match='truncated or not a checkpoint') as e: learn.resume(tmp_path/'cut.pth')
    assert e.value.file == tmp_path/'cut.pth'
    other = build_pose_estimator(tiny_pose_config(14, input_size=INPUT, metainfo=None))
    learn.create_opt()
    save_pose_checkpoint(other, tmp_path/'other.pth', optimizer=learn.opt.state_dict(), epoch=0, data_rng=data_rng_state(learn.dls.train))
    with pytest.raises(PoseaiError, match='trained for 14 keypoints, this model has 17'): learn.resume(tmp_path/'other.pth')

# --- non-finite losses

class NaNAt(Callback):
    "Make the loss of training batch `n` (counted over the run) NaN."
    order = 49
    def __init__(self, n): self.n, self.seen = n, 0
    def after_loss(self):
        if not self.training: return
        if self.seen == self.n: self.learn.loss = self.learn.loss_grad = self.loss_grad * float('nan')
        self.seen += 1

@pytest.mark.parametrize('every', [1, 2, 20])
def test_non_finite_loss_stops_naming_the_batch_before_its_checkpoint(coco, tmp_path, every):
    "Batch 4 (epoch 1, iteration 1) poisoned: the error names it and its images whatever the check interval; epoch 1 is never saved."
    ds = coco[0]
    learn = tiny_learner(ds, tmp_path, cbs=[StopOnNonFinite(every=every), NaNAt(4)])
    with learn.no_bar(), learn.no_logging():
        with pytest.raises(PoseaiError, match=r'the training loss is nan at epoch 1, iteration 1 \(instances \[') as e: learn.fit(3, 1e-3)
    ids = [int(i) for i in e.value.problem.split('instances [')[1].split(']')[0].split(', ')]
    assert len(ids) == 8 and set(ids) <= {r['id'] for r in ds.data_list}
    paths = {str(r['img_path']) for r in ds.data_list if r['id'] in ids}
    assert all(p in e.value.problem for p in paths)
    assert torch.load(tmp_path/'models/pose_last.pth', weights_only=False)['epoch'] == 0
    assert all(torch.isfinite(v).all() for v in init_pose_model(tmp_path/'models/pose_last.pth').state_dict().values())

def test_a_huge_learning_rate_is_stopped(coco, tmp_path):
    learn = tiny_learner(coco[0], tmp_path, cbs=[StopOnNonFinite()])
    with learn.no_bar(), learn.no_logging():
        with pytest.raises(PoseaiError, match='the training loss is (nan|inf|-inf) at epoch 0, iteration'): learn.fit(2, 1e10)
    assert not (tmp_path/'models/pose_last.pth').exists()

def test_finite_runs_are_left_alone(coco, tmp_path):
    learn = tiny_learner(coco[0], tmp_path, cbs=[StopOnNonFinite(every=2)])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert torch.load(tmp_path/'models/pose_last.pth', weights_only=False)['epoch'] == 0
