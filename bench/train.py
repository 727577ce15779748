"""Training throughput: poseai's fastai Learner against a plain PyTorch loop, and end to end from JPEGs.

Usage: python bench/train.py [--model res50|hrnet32] [--bs 256] [--steps 30] [--compile] [--jpegs DIR] [--workers N]

1. Synthetic batches (already on the device): images/s of full training steps (forward, head loss with targets encoded
   on the device, backward, Adam step) of SimpleBaseline ResNet-50 (or HRNet-W32) at 256x192, bf16 autocast and
   channels_last, through `pose_learner(...).fit` and through a hand-written PyTorch loop on the same model, batches and
   targets, in the same run. Ratio = Learner / plain loop (goal >= 0.95).
2. With `--jpegs DIR` (a COCO-style folder with annotations.json, or the Leeds Sports Pose folder with joints.mat): the
   same Learner fed by `PoseDataLoaders` with `--workers` processes decoding and augmenting JPEGs: images/s into the GPU.
Last line: `train: key=value ...`.
"""
import argparse, sys, time, warnings
from pathlib import Path
import torch
from fastai.data.core import DataLoaders
from poseai.estimators import build_pose_estimator
from poseai.metainfo import parse_pose_metainfo
from poseai.learner import pose_learner, EncodeTargets
from poseai.dataloaders import PoseDataLoaders

CONFIGS = dict(
    res50=dict(backbone=dict(type='ResNet', depth=50), head=dict(type='HeatmapHead', in_channels=2048)),
    hrnet32=dict(backbone=dict(type='HRNet', in_channels=3, extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4,), num_channels=(64,)),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
        stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4), num_channels=(32, 64, 128)),
        stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4), num_channels=(32, 64, 128, 256)))),
        head=dict(type='HeatmapHead', in_channels=32, deconv_out_channels=None)))

def config(name, meta=None):
    "MMPose's top-down config of `name` at 256x192 with its MSRA heatmap codec, for the keypoints of `meta` (COCO's by default)."
    cfg, meta = CONFIGS[name], parse_pose_metainfo(meta or 'coco')
    head = dict(cfg['head'], out_channels=meta.num_keypoints, loss=dict(type='KeypointMSELoss', use_target_weight=True),
                decoder=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2))
    return dict(type='TopdownPoseEstimator', backbone=cfg['backbone'], head=head, test_cfg=dict(flip_test=True, shift_heatmap=True), metainfo=meta)

class Repeat:
    "The same batch `n` times: a loader with no data cost."
    def __init__(self, batch, n): self.batch, self.n, self.device = batch, n, batch[0].device
    def to(self, device): return self
    def __iter__(self): return (self.batch for _ in range(self.n))
    def __len__(self): return self.n

def synthetic_batch(bs, device):
    "A normalised channels-last batch `(bs, 3, 256, 192)` and its keypoint targets, on `device`."
    x = torch.randn(bs, 3, 256, 192, device=device).contiguous(memory_format=torch.channels_last)
    g = torch.Generator(device='cpu').manual_seed(0)
    target = dict(keypoints=(torch.rand(bs, 17, 2, generator=g) * torch.tensor([192., 256.])).to(device),
                  keypoints_visible=torch.ones(bs, 17, device=device))
    return x, target

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def learner_rate(model, batch, steps, warmup, compile):
    "Images/s of `pose_learner(...).fit` on `steps` repeats of `batch` (after `warmup` steps), bf16 + channels_last."
    device = batch[0].device
    dls = DataLoaders(Repeat(batch, warmup), Repeat(batch, 0), device=device)
    learn = pose_learner(dls, model.to(device), evaluators={}, channels_last=True, compile=compile)
    if device.type == 'cuda': learn = learn.to_bf16()
    with learn.no_logging(), learn.no_bar():
        learn.fit(1, 5e-4)                                   # warm-up: cuDNN autotune, compile
        dls.train.n = steps
        sync(device); start = time.perf_counter()
        learn.fit(1, 5e-4)
        sync(device)
    return steps * len(batch[0]) / (time.perf_counter() - start)

def plain_rate(model, batch, steps, warmup, compile):
    "Images/s of a hand-written loop: encode targets, forward, head loss, backward, Adam step; bf16 autocast, channels_last."
    device, (x, target) = batch[0].device, batch
    model = model.to(device, memory_format=torch.channels_last).train()
    forward = torch.compile(model) if compile else model
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    encode = EncodeTargets(model.head.decoder).encode
    def step():
        targets = encode(target)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
            loss = model.head.loss_by_outputs(forward(x), targets)['loss_kpt']
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for _ in range(warmup): step()
    sync(device); start = time.perf_counter()
    for _ in range(steps): step()
    sync(device)
    return steps * len(x) / (time.perf_counter() - start)

def jpeg_rate(name, root, bs, workers, steps, compile):
    "Images/s of the Learner trained from JPEGs on disk through `PoseDataLoaders` with `workers` processes."
    from poseai.datasets import CocoDataset, LspDataset
    root = Path(root)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ds = LspDataset(root) if (root/'joints.mat').exists() else CocoDataset(root/'annotations.json', data_prefix=dict(img=root))
    ds.data_list = (ds.data_list * -(-steps * bs // len(ds)))[:steps * bs]   # the images repeated: `steps` batches of new crops
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dls = PoseDataLoaders.from_datasets(ds, None, input_size=(192, 256), bs=bs, num_workers=workers, seed=0, device=device, persistent_workers=workers > 0)
    learn = pose_learner(dls, config(name, ds.metainfo), evaluators={}, channels_last=True, compile=compile)
    if device.type == 'cuda': learn = learn.to_bf16()
    n = steps
    with learn.no_logging(), learn.no_bar():
        learn.fit(1, 5e-4)                                   # warm-up: workers start, cuDNN autotune
        sync(device); start = time.perf_counter()
        learn.fit(1, 5e-4)
        sync(device)
    return n * bs / (time.perf_counter() - start), len(set(r['img_path'] for r in ds.data_list))

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', default='res50', choices=list(CONFIGS)); p.add_argument('--bs', type=int, default=256)
    p.add_argument('--steps', type=int, default=30); p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--compile', action='store_true'); p.add_argument('--jpegs', default=None); p.add_argument('--workers', type=int, default=8)
    a = p.parse_args()
    if not torch.cuda.is_available():   # batches of 256 at 256x192: about 24 GB on a CPU (the process was OOM-killed), and minutes a step
        sys.exit('bench/train.py times training on a GPU and torch sees no CUDA GPU here (on a CPU its batches of 256 need about 24 GB of memory): run it on a GPU machine')
    device = torch.device('cuda')
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
    print(f'{a.model} 256x192, batch {a.bs}, {"bf16 + " if device.type == "cuda" else ""}channels_last{", torch.compile" if a.compile else ""}, on {name}')
    batch = synthetic_batch(a.bs, device)
    torch.manual_seed(0); learner = learner_rate(build_pose_estimator(config(a.model)), batch, a.steps, a.warmup, a.compile)
    torch.manual_seed(0); plain = plain_rate(build_pose_estimator(config(a.model)), batch, a.steps, a.warmup, a.compile)
    torch.manual_seed(0); learner2 = learner_rate(build_pose_estimator(config(a.model)), batch, a.steps, a.warmup, a.compile)
    learner = max(learner, learner2)
    print(f'  synthetic batches: poseai Learner {learner:8.1f} img/s   plain PyTorch loop {plain:8.1f} img/s   ratio {learner / plain:.3f}')
    figures = dict(model=a.model, bs=a.bs, compile=int(a.compile), learner=round(learner, 1), plain=round(plain, 1), ratio=round(learner / plain, 3))
    if a.jpegs:
        rate, n = jpeg_rate(a.model, a.jpegs, a.bs, a.workers, a.steps, a.compile)
        print(f'  from JPEGs ({n} images of {a.jpegs}, repeated), {a.workers} workers: {rate:8.1f} img/s into the GPU, trained')
        figures.update(jpegs=round(rate, 1), workers=a.workers)
    print('train: ' + ' '.join(f'{k}={v}' for k, v in figures.items()))

if __name__ == '__main__': main()
