"""Time to evaluate COCO keypoint AP on 10,000 predictions: poseai's `CocoMetric` and, when its venv is there, MMPose's.

Usage: python bench/coco_eval.py [--predictions 10000] [--rounds 3] [--peer ~/.cache/mmpose-peer/bin/python]

A synthetic COCO file: 5,000 images with 2 labelled people each (17 keypoints, a few unlabelled, random sizes); one
prediction per person, its keypoints the labels plus Gaussian noise of 3% of the box, random keypoint and box scores, and
one extra near duplicate per 10 people for OKS NMS to remove. Both sides run the whole `evaluate`: rescoring, OKS NMS,
results in COCO's format and COCOeval (pycocotools here, xtcocotools in MMPose), from the loaded annotations. Best of
`--rounds`, in seconds. Last line: `coco_eval: poseai=<s> mmpose=<s> ratio=<mmpose/poseai>` (mmpose and ratio only with the peer).
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from poseai.evaluation import CocoMetric

PEER = Path.home() / '.cache/mmpose-peer/bin/python'

def synthetic_coco(n_people, rng):
    "A COCO keypoint annotation dict with 2 people per image, and noisy predictions of them (plus a near duplicate per 10)."
    images, anns, preds = [], [], []
    for i in range(n_people):
        img_id = i // 2 + 1
        if i % 2 == 0: images.append(dict(id=img_id, file_name=f'{img_id:012d}.jpg', width=640, height=480))
        w, h = rng.uniform(30, 300, 2)
        x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
        kps = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.where(rng.random(17) < 0.85, 2, 0)], -1)
        kps[kps[:, 2] == 0, :2] = 0
        anns.append(dict(id=i + 1, image_id=img_id, category_id=1, iscrowd=0, bbox=[x, y, w, h], area=w * h * 0.7,
                         keypoints=kps.ravel().tolist(), num_keypoints=int((kps[:, 2] > 0).sum())))
        noisy = kps[:, :2] + rng.normal(0, 0.03 * max(w, h), (17, 2))
        pred = dict(id=i + 1, img_id=img_id, keypoints=noisy.astype(np.float32), keypoint_scores=rng.uniform(0, 1, 17).astype(np.float32),
                    bbox_score=float(rng.uniform(0.3, 1)), area=float(w * h * 1.25 ** 2))
        preds.append(pred)
        if i % 10 == 0: preds.append(dict(pred, id=10 ** 7 + i, keypoints=pred['keypoints'] + 1, bbox_score=pred['bbox_score'] * 0.9))
    return dict(images=images, annotations=anns, categories=[dict(id=1, name='person')]), preds

PEER_SCRIPT = r'''
import json, sys, time, warnings, numpy as np
warnings.filterwarnings('ignore')
from mmengine.logging import MMLogger
from mmpose.evaluation.metrics import CocoMetric
from mmpose.datasets.datasets.utils import parse_pose_metainfo
folder, rounds, meta_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
MMLogger.get_instance('mmengine', log_level='ERROR')
meta = json.load(open(meta_file))
for k in ('keypoint_info', 'skeleton_info'):
    if isinstance(meta[k], list): meta[k] = dict(enumerate(meta[k]))
d = np.load(f'{folder}/preds.npz')
samples = [dict(id=int(i), img_id=int(j), pred_instances=dict(keypoints=k[None], keypoint_scores=s[None]),
                gt_instances=dict(bbox_scores=np.array([b]), bbox_scales=np.array([[a, 1.]])))
           for i, j, k, s, b, a in zip(d['ids'], d['img_ids'], d['keypoints'], d['scores'], d['bbox_scores'], d['areas'])]
metric = CocoMetric(ann_file=f'{folder}/ann.json')
metric.dataset_meta = parse_pose_metainfo(meta)
times = []
for _ in range(rounds):
    metric.results = []
    start = time.perf_counter()
    metric.process([], samples)
    stats = metric.evaluate(len(samples))
    times.append(time.perf_counter() - start)
print(json.dumps(dict(seconds=min(times), AP=float(stats['coco/AP']))))
'''

def run_peer(peer, dataset, preds, rounds, meta_file):
    "Best time of MMPose's `CocoMetric` on the same inputs, and its AP (the peer's prints go to a pipe)."
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, 'ann.json').write_text(json.dumps(dataset))
        np.savez(Path(folder, 'preds.npz'), ids=[p['id'] for p in preds], img_ids=[p['img_id'] for p in preds], keypoints=np.stack([p['keypoints'] for p in preds]),
                 scores=np.stack([p['keypoint_scores'] for p in preds]), bbox_scores=[p['bbox_score'] for p in preds], areas=[p['area'] for p in preds])
        out = subprocess.run([str(peer), '-c', PEER_SCRIPT, folder, str(rounds), str(meta_file)], capture_output=True, text=True)
        if out.returncode: raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])

def main(predictions=10000, rounds=3, peer=PEER):
    rng = np.random.default_rng(0)
    n_people = round(predictions / 1.1)
    dataset, preds = synthetic_coco(n_people, rng)
    metric = CocoMetric(dataset, 'coco')
    times = []
    for _ in range(rounds):
        start = time.perf_counter(); stats = metric.evaluate(preds); times.append(time.perf_counter() - start)
    ours = min(times)
    print(f'{len(preds)} predictions of {len(dataset["annotations"])} people in {len(dataset["images"])} images; best of {rounds}')
    print(f'  poseai CocoMetric.evaluate   {ours:6.2f} s   AP {stats["AP"]:.4f}')
    summary = f'coco_eval: poseai={ours:.2f}'
    meta_file = Path(__file__).resolve().parents[2] / 'shared/data/metainfo/coco.json'
    if Path(peer).exists() and meta_file.exists():
        theirs = run_peer(peer, dataset, preds, rounds, meta_file)
        print(f'  MMPose CocoMetric.evaluate   {theirs["seconds"]:6.2f} s   AP {theirs["AP"]:.4f}   (ratio MMPose / poseai {theirs["seconds"] / ours:.2f}x)')
        summary += f' mmpose={theirs["seconds"]:.2f} ratio={theirs["seconds"] / ours:.2f}'
    else: print(f'  (no MMPose peer at {peer} or no shared metainfo: poseai only)')
    print(summary)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--predictions', type=int, default=10000)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--peer', type=Path, default=PEER)
    main(**vars(p.parse_args()))
