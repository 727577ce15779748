"""Throughput of `PoseDataLoaders` (training loader: pipeline in workers, uint8 crops, normalise + photometric on the device).

Usage: python bench/dataloader.py [--workers 2] [--bs 64] [--batches 30] [--images 256]

Data: a synthetic COCO dataset of 640x480 JPEGs (COCO-sized images, made once in a temporary folder). Prints samples/s of
  - the loader alone on the CPU with 0 and `--workers` worker processes (batches collated, nothing moved), and with
    `group_by_image=True` (each image decoded once for all its people),
  - end to end into the device (`cuda` when present): batches copied (pinned, uint8), photometric + normalisation there, synchronised,
and the ratio end-to-end / loader-alone with the same workers, measured in the same run: near 1 means the device side costs
nothing and the GPU is fed as fast as the workers crop. Last line: `dataloader: workers=<W> loader=<samples/s> device=<samples/s>`.
"""
import argparse, tempfile, time
from pathlib import Path
import torch
from poseai.datasets import CocoDataset
from poseai.synthetic import make_synthetic_coco
from poseai.dataloaders import PoseDataLoaders

def samples_per_s(dl, batches, sync=lambda: None):
    "Samples/s over `batches` batches of `dl`, after one warm-up batch (worker start-up excluded)."
    it = iter(dl)
    next(it); sync()
    start, n = time.perf_counter(), 0
    for _ in range(batches): n += len(next(it)[0])
    sync()
    return n / (time.perf_counter() - start)

def main(workers=2, bs=64, batches=20, images=1024):
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ds = CocoDataset(make_synthetic_coco(tmp, n_images=images, size=(640, 480), seed=0), data_prefix=dict(img=tmp))
        print(f'synthetic data: {images} images 640x480, {len(ds)} people, made in {time.perf_counter() - t0:.1f} s; bs={bs}, {batches} batches')
        for path in {r['img_path'] for r in ds.data_list}: Path(path).read_bytes()   # every run reads from the page cache
        cpu = torch.device('cpu')
        def loader(w, device, group_by_image=False):
            return PoseDataLoaders.from_datasets(ds, bs=bs, num_workers=w, seed=0, device=device, group_by_image=group_by_image).train
        plain = {}
        for w in sorted({0, workers}):
            dl = loader(w, cpu)
            dl.after_batch = lambda b: b                                   # loader alone: collated uint8, no device work
            plain[w] = samples_per_s(dl, batches)
            print(f'  loader alone, {w} workers:             {plain[w]:8.1f} samples/s')
        dl = loader(workers, cpu, group_by_image=True)
        dl.after_batch = lambda b: b
        grouped = samples_per_s(dl, batches)
        print(f'  loader alone, {workers} workers, group_by_image: {grouped:8.1f} samples/s')
        device = torch.device('cuda') if torch.cuda.is_available() else cpu
        sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
        end_to_end = samples_per_s(loader(workers, device), batches, sync)
        name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
        print(f'  end to end into {name}, {workers} workers: {end_to_end:8.1f} samples/s ({end_to_end / bs:.1f} batches/s)')
        print(f'ratio end-to-end / loader alone ({workers} workers): {end_to_end / plain[workers]:.2f}')
        print(f'dataloader: workers={workers} loader={plain[workers]:.1f} device={end_to_end:.1f}')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--workers', type=int, default=2); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--batches', type=int, default=20); p.add_argument("--images", type=int, default=1024)
    main(**vars(p.parse_args()))
