"""Data-parallel training on several GPUs with fastai's `distrib_ctx`: images/s and the validation metric gathered over all ranks.

Usage (one GPU, then two, on the same host):
    python bench/train_ddp.py [--model res50|hrnet32] [--steps 60] [--bs 256] [--workers 15] [--lsp DIR]
    OMP_NUM_THREADS=8 torchrun --nproc_per_node 2 bench/train_ddp.py [same options]      (or: accelerate launch --num_processes 2 ...)

torchrun sets OMP_NUM_THREADS=1 in each process unless it is set: on two H200s that cost 16% (4667 img/s against 5528).

SimpleBaseline ResNet-50 (or HRNet-W32) at 256x192, bf16 + channels_last, trained from the Leeds Sports Pose JPEGs (its 1000 training
images repeated) through `PoseDataLoaders` with `--workers` processes per GPU; each GPU takes `--bs` crops a step.
Batch norm is per GPU, as in MMPose's top-down configs (`--sync-bn`: fastai's default, synchronised), and its buffers are not
broadcast at each step (`PoseLearner.to_distributed`). Epoch 1 warms up (workers, cuDNN), epoch 2 is timed: images/s of all GPUs together. Validation after each epoch runs
flip test on the 1000 LSP test people split over the GPUs, and rank 0 reports PCK@0.2 over all of them (predictions
gathered from every rank). Last line (rank 0): `train_ddp: world=<gpus> img_s=<images/s> pck=<PCK@0.2> evaluated=<people>`.
"""
import argparse, time, warnings
from pathlib import Path
import torch
from fastai.callback.core import Callback
from fastai.distributed import *
from fastai.torch_core import num_distrib, rank_distrib
from poseai.datasets import LspDataset
from poseai.dataloaders import PoseDataLoaders
from poseai.evaluation import PCKAccuracy
from poseai.learner import pose_learner, PoseEvaluation
from train import config   # bench/train.py: MMPose's top-down configs

ROOT = Path(__file__).resolve().parents[1]

class TrainTimer(Callback):
    "Seconds of each epoch's training phase, the GPU synchronised at both ends."
    order = 100
    def before_fit(self): self.seconds = []
    def before_train(self): torch.cuda.synchronize(); self.start = time.perf_counter()
    def after_train(self): torch.cuda.synchronize(); self.seconds.append(time.perf_counter() - self.start)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=60, help='training steps per epoch on each GPU')
    p.add_argument('--bs', type=int, default=256); p.add_argument('--workers', type=int, default=15)
    p.add_argument('--model', default='res50', choices=['res50', 'hrnet32'])
    p.add_argument('--lsp', default=str(ROOT.parent/'shared/data/lsp'))
    p.add_argument('--sync-bn', action='store_true', help="batch norm statistics over all GPUs (fastai's default; MMPose's top-down configs do not)")
    a = p.parse_args()
    world, rank = max(1, num_distrib()), rank_distrib()
    torch.cuda.set_device(rank)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        train_ds, valid_ds = LspDataset(a.lsp, split='train'), LspDataset(a.lsp, split='test')
    per_epoch = a.steps * a.bs * world
    train_ds.data_list = (train_ds.data_list * -(-per_epoch // len(train_ds)))[:per_epoch]
    dls = PoseDataLoaders.from_datasets(train_ds, valid_ds, input_size=(192, 256), bs=a.bs, num_workers=a.workers, seed=0,
                                        device=torch.device('cuda', rank), persistent_workers=True)
    torch.manual_seed(0)
    timer = TrainTimer()
    learn = pose_learner(dls, config(a.model, train_ds.metainfo), evaluators={PCKAccuracy(thr=0.2): ['PCK']}, channels_last=True, cbs=timer).to_bf16()
    evaluation = next(cb for cb in learn.cbs if isinstance(cb, PoseEvaluation))
    with learn.distrib_ctx(sync_bn=a.sync_bn), learn.no_bar(): learn.fit(2, 5e-4)
    rate = per_epoch / timer.seconds[-1]
    if rank == 0:
        pck = learn.recorder.values[-1][learn.recorder.metric_names[1:].index('PCK')]
        print(f'{a.model}, {world} GPU(s) ({torch.cuda.get_device_name()}), batch {a.bs} each, {a.workers} workers each: {rate:.1f} img/s '
              f'(timed epoch {timer.seconds[-1]:.2f} s); validation PCK@0.2 {pck:.4f} over {evaluation.evaluated} people')
        print(f'train_ddp: model={a.model} world={world} sync_bn={int(a.sync_bn)} img_s={rate:.1f} pck={pck:.4f} evaluated={evaluation.evaluated}')

if __name__ == '__main__': main()
