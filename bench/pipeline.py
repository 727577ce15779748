"""Samples/s of poseai's standard top-down training pipeline on `samples/coco`, one process, beside MMPose's in the same run.

Usage: python bench/pipeline.py [SAMPLES_DIR] [SECONDS]

Times `topdown_pipeline()` (load, bbox -> centre/scale, flip, half body, bbox jitter, affine crop to 192x256: the uint8 crop
and keypoints a worker ships) per core (OpenCV on one thread), best of rounds of SECONDS (default 3). `full` is the standard
training pipeline, `topdown_pipeline((192, 256), seed=0)`: it decodes each JPEG in the crop step, cut below the last row the
crop reads, which gives MMPose's crops exactly. Beside it: the training option `reduced_decode=True` (crops that shrink their
person twofold or more decode at 1/2, 1/4 or 1/8 size, and their pixels change a little), the pipeline on images decoded
beforehand (`no_decode`, as MMPose's bench), and each image decoded once for all its people, in a row (`grouped`, what
`PoseDataLoaders(..., group_by_image=True)` does).

When MMPose 1.3.2's venv exists (~/.cache/mmpose-peer, made by shared/peer/install_mmpose.sh) it runs
shared/peer/bench_mmpose_pipeline.py (MMPose's equivalent pipeline, which also builds MSRA heatmaps; best of 3 rounds) per
core, twice, alternating with two timings of poseai's, so that both see the machine in the same states (on a shared machine
rates drift by tens of percent within minutes); each side keeps its best. It then runs MMPose's bench as it runs (OpenCV on
its default threads) and prints the ratios. The last line is `pipeline: full=<samples/s> no_decode=<samples/s>
grouped=<samples/s>`, per core.
"""
import os, re, subprocess, sys, time, warnings
from pathlib import Path
import cv2
from poseai.datasets import CocoDataset
from poseai.transforms import imread_rgb, topdown_pipeline

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / 'shared'
PEER_PYTHON = Path.home() / '.cache/mmpose-peer/bin/python'

def rate(fn, n, budget):
    "Calls of `fn(i)` per second, `i` cycling over `n` items: the best of 3 rounds of `budget` seconds (as MMPose's bench)."
    best = 0.
    for _ in range(3):
        start, k = time.perf_counter(), 0
        while time.perf_counter() - start < budget: fn(k % n); k += 1
        best = max(best, k / (time.perf_counter() - start))
    return best

def poseai_rates(ds, budget, modes=('full', 'no_decode', 'grouped')):
    "`{mode: samples/s}` of `ds[i]` through the training pipeline in each of `modes`."
    pipeline, images = topdown_pipeline((192, 256), seed=0), {}
    def no_decode(i):
        record = ds[i]
        if record['img_path'] not in images: images[record['img_path']] = imread_rgb(record['img_path'])
        return pipeline(dict(record, img=images[record['img_path']]))
    run = dict(full=lambda i: pipeline(ds[i]), no_decode=no_decode,
               reduced=lambda i, p=topdown_pipeline((192, 256), seed=0, reduced_decode=True): p(ds[i]),
               grouped=lambda i, p=topdown_pipeline((192, 256), seed=0, decode_cache=1): p(ds[i]))   # an image's people in a row
    return {mode: rate(run[mode], len(ds), budget) for mode in modes}

def mmpose_rates(samples, budget, one_thread):
    "MMPose's `{'full', 'no_decode'}` samples/s from its own bench in a subprocess, with OpenCV on one thread or its default threads."
    env = dict(os.environ, OPENCV_FOR_THREADS_NUM='1', OMP_NUM_THREADS='1') if one_thread else None
    run = subprocess.run([str(PEER_PYTHON), str(SHARED / 'peer/bench_mmpose_pipeline.py'), str(samples), str(budget)],
                         capture_output=True, text=True, env=env)
    found = re.search(r'full ([\d.]+) samples/s, without decode ([\d.]+)', run.stdout)
    if not found: sys.exit(f'MMPose bench failed (rc {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}')
    return dict(full=float(found[1]), no_decode=float(found[2]))

def best(*runs):
    "The best rate of each mode over `runs` of `{mode: rate}`."
    return {mode: max(run[mode] for run in runs if mode in run) for mode in runs[0]}

def main(samples=SHARED / 'data/samples', budget=3.):
    samples, budget = Path(samples), float(budget)
    ann_file = samples / 'coco/test_coco.json'
    if not ann_file.exists(): sys.exit(f'{ann_file} is absent: this benchmark needs the shared/ folder beside the repository')
    with warnings.catch_warnings():   # it reports the annotations without keypoints it leaves out, as MMPose does silently
        warnings.simplefilter('ignore')
        ds = CocoDataset(ann_file.name, data_root=ann_file.parent, data_prefix=dict(img=''))
    n_images, has_mmpose = len({r['img_path'] for r in ds.data_list}), PEER_PYTHON.exists()
    print(f'poseai top-down train pipeline, 192x256, {len(ds)} instances of samples/coco, per core (OpenCV 1 thread), best of 3 x {budget:g} s')
    cv2.setNumThreads(1)
    decode = rate(lambda i: imread_rgb(ds.data_list[i]['img_path']), len(ds), budget)
    print(f'  decode alone, whole image (imread_rgb): {decode:7.1f} samples/s')
    first = poseai_rates(ds, budget, ('full', 'reduced', 'no_decode', 'grouped'))
    mm_runs = [mmpose_rates(samples, budget, one_thread=True)] if has_mmpose else []
    second = poseai_rates(ds, budget)
    if has_mmpose: mm_runs.append(mmpose_rates(samples, budget, one_thread=True))
    ours = best(first, second)
    for mode, label in (('full', 'full: standard, decode cut below the crop (exact)'), ('reduced', 'full with reduced_decode=True (training)'),
                        ('no_decode', 'no_decode: images decoded beforehand'), ('grouped', f'grouped: one decode per image ({len(ds)} people in {n_images} images)')):
        print(f'  {label:58s} {ours[mode]:7.1f} samples/s' + (f'   (timings: {first[mode]:.1f}, {second[mode]:.1f})' if mode in second else ''))
    print(f'  the full pipeline runs at {ours["full"] / decode:.0%} of the rate of decoding whole images alone')
    if not has_mmpose: print(f'mmpose: {PEER_PYTHON} is absent, no comparison (see shared/peer/install_mmpose.sh)')
    else:
        runs = [(best(*mm_runs), 'per core (OpenCV 1 thread), best of its two runs between poseai\'s', ' '.join(f'{r["full"]:.1f}' for r in mm_runs)),
                (mmpose_rates(samples, budget, one_thread=False), 'as its bench runs (OpenCV default threads)', None)]
        for mm, label, timings in runs:
            print(f'mmpose 1.3.2 {label}, with MSRA heatmaps: full {mm["full"]:7.1f}   no_decode {mm["no_decode"]:7.1f} samples/s'
                  + (f'   (full timings: {timings})' if timings else ''))
            print(f'  ratio poseai per core / this: full {ours["full"] / mm["full"]:.2f}x (reduced_decode {ours["reduced"] / mm["full"]:.2f}x)   '
                  f'no_decode {ours["no_decode"] / mm["no_decode"]:.2f}x   grouped {ours["grouped"] / mm["full"]:.2f}x')
    print(f'pipeline: full={ours["full"]:.1f} no_decode={ours["no_decode"]:.1f} grouped={ours["grouped"]:.1f}')

if __name__ == '__main__': main(*sys.argv[1:])
