"""Samples/s of poseai's standard top-down training pipeline on `samples/coco`, one process, beside MMPose's in the same run.

Usage: python bench/pipeline.py [SAMPLES_DIR] [SECONDS]

Times `topdown_pipeline()` (decode, bbox -> centre/scale, flip, half body, bbox jitter, affine crop to 192x256: the uint8 crop
and keypoints a worker ships), best of 3 rounds of SECONDS (default 3), with and without decoding, with OpenCV on one
thread (per core) and on its default threads. When MMPose 1.3.2's venv exists (~/.cache/mmpose-peer, made by
shared/peer/install_mmpose.sh) it then runs shared/peer/bench_mmpose_pipeline.py (MMPose's equivalent pipeline, which also
builds MSRA heatmaps) twice, as it runs and with OpenCV on one thread, and prints the ratios. It also times the full
pipeline decoding each image once for all its people, in a row (what `PoseDataLoaders(..., group_by_image=True)` does).
The last line is `pipeline: full=<samples/s> no_decode=<samples/s> grouped=<samples/s>`, per core.
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

def poseai_rates(ds, budget):
    "Samples/s of `ds[i]` through the full pipeline, and through the pipeline with the images decoded beforehand (as MMPose's bench)."
    pipeline, images = topdown_pipeline((192, 256), seed=0), {}
    def no_decode(i):
        record = ds[i]
        if record['img_path'] not in images: images[record['img_path']] = imread_rgb(record['img_path'])
        return pipeline(dict(record, img=images[record['img_path']]))
    return rate(lambda i: pipeline(ds[i]), len(ds), budget), rate(no_decode, len(ds), budget)

def mmpose_rates(samples, budget, one_thread):
    "MMPose's (full, no_decode) samples/s from its own bench in a subprocess, with OpenCV on one thread or on its default threads."
    env = dict(os.environ, OPENCV_FOR_THREADS_NUM='1', OMP_NUM_THREADS='1') if one_thread else None
    run = subprocess.run([str(PEER_PYTHON), str(SHARED / 'peer/bench_mmpose_pipeline.py'), str(samples), str(budget)],
                         capture_output=True, text=True, env=env)
    found = re.search(r'full ([\d.]+) samples/s, without decode ([\d.]+)', run.stdout)
    if not found: sys.exit(f'MMPose bench failed (rc {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}')
    return float(found[1]), float(found[2])

def main(samples=SHARED / 'data/samples', budget=3.):
    samples, budget = Path(samples), float(budget)
    ann_file = samples / 'coco/test_coco.json'
    if not ann_file.exists(): sys.exit(f'{ann_file} is absent: this benchmark needs the shared/ folder beside the repository')
    with warnings.catch_warnings():   # it reports the annotations without keypoints it leaves out, as MMPose does silently
        warnings.simplefilter('ignore')
        ds = CocoDataset(ann_file.name, data_root=ann_file.parent, data_prefix=dict(img=''))
    default_threads = cv2.getNumThreads()
    print(f'poseai top-down train pipeline, 192x256, {len(ds)} instances of samples/coco, best of 3 x {budget:g} s')
    decode = rate(lambda i: imread_rgb(ds.data_list[i]['img_path']), len(ds), budget)
    print(f'  decode alone (imread_rgb):                     {decode:7.1f} samples/s')
    full_mt, no_decode_mt = poseai_rates(ds, budget)
    print(f'  OpenCV default threads ({default_threads}): full {full_mt:7.1f}   no_decode {no_decode_mt:7.1f} samples/s')
    cv2.setNumThreads(1)
    full, no_decode = poseai_rates(ds, budget)
    print(f'  per core (OpenCV 1 thread): full {full:7.1f}   no_decode {no_decode:7.1f} samples/s')
    print(f'  per core, the full pipeline runs at {full / decode:.0%} of the bare decode rate')
    cached = topdown_pipeline((192, 256), seed=0, decode_cache=1)   # group_by_image: an image's people in a row, one decode
    grouped = rate(lambda i: cached(ds[i]), len(ds), budget)
    print(f'  per core, one decode per image (group_by_image, {len(ds)} people in {len({r["img_path"] for r in ds.data_list})} images): '
          f'full {grouped:7.1f} samples/s')
    if not PEER_PYTHON.exists(): print(f'mmpose: {PEER_PYTHON} is absent, no comparison (see shared/peer/install_mmpose.sh)')
    else:
        for one_thread, label in ((False, 'as its bench runs (OpenCV default threads)'), (True, 'per core (OpenCV 1 thread)')):
            mm_full, mm_no_decode = mmpose_rates(samples, budget, one_thread)
            print(f'mmpose 1.3.2 {label}, same run, with MSRA heatmaps: full {mm_full:7.1f}   no_decode {mm_no_decode:7.1f} samples/s')
            print(f'  ratio poseai per core / this: full {full / mm_full:.2f}x   no_decode {no_decode / mm_no_decode:.2f}x   '
                  f'full with one decode per image {grouped / mm_full:.2f}x')
    print(f'pipeline: full={full:.1f} no_decode={no_decode:.1f} grouped={grouped:.1f}')

if __name__ == '__main__': main(*sys.argv[1:])
