"Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_tracking.npz: track ids that MMPose's greedy IoU and OKS matching (`_track_by_iou`, `_track_by_oks`, in the loop of its Pose3DInferencer) give to random people moving over 8 frames, some leaving and arriving."
from pathlib import Path
import numpy as np
from mmengine.structures import InstanceData
from mmpose.apis import _track_by_iou, _track_by_oks
from mmpose.structures import PoseDataSample

rng = np.random.default_rng(0)
n_frames, n_people, K = 8, 7, 17
start = rng.uniform(0, 400, (n_people, 2))
size = rng.uniform(40, 160, (n_people, 2))
velocity = rng.normal(0, 12, (n_people, 2))
shape = rng.uniform(0, 1, (n_people, K, 2))
present = rng.random((n_frames, n_people)) < 0.8
out = dict(present=present)
for f in range(n_frames):
    order = rng.permutation(n_people)
    corner = start + velocity * f
    boxes = np.concatenate([corner, corner + size], 1)[order]
    kpts = (corner[:, None] + shape * size[:, None] + rng.normal(0, 2, (n_people, K, 2)))[order]
    scores = rng.uniform(0, 1, (n_people, K))
    kpts[scores < 0.1] = 0                    # a few keypoints unlabelled at (0, 0)
    keep = present[f][order]
    out[f'boxes{f}'], out[f'keypoints{f}'], out[f'scores{f}'] = boxes[keep], kpts[keep], scores[keep]
    out[f'person{f}'] = order[keep]

def track(use_oks, thr):
    "MMPose's matching loop (Pose3DInferencer's), frame by frame; areas as MMPose 0.x's `_get_area` (box area)."
    last, next_id, ids = [], 0, []
    for f in range(n_frames):
        frame = []
        for box, kpt, score in zip(out[f'boxes{f}'], out[f'keypoints{f}'], out[f'scores{f}']):
            ds = PoseDataSample()
            ds.pred_instances = InstanceData(bboxes=box[None], keypoints=kpt[None], keypoint_scores=score[None],
                                             areas=np.array([(box[2] - box[0]) * (box[3] - box[1])]))
            tid, last, _ = (_track_by_oks if use_oks else _track_by_iou)(ds, last, thr)
            if tid == -1:
                if np.count_nonzero(kpt[:, 1]) >= 3: tid, next_id = next_id, next_id + 1
            ds.set_field(tid, 'track_id')
            frame.append(ds)
        ids.append(np.array([ds.track_id for ds in frame]))
        last = frame
    return ids

for use_oks, thr in ((False, 0.3), (True, 0.3)):
    for f, ids in enumerate(track(use_oks, thr)): out[f"{'oks' if use_oks else 'iou'}_ids{f}"] = ids
np.savez_compressed(Path(__file__).with_name('mmpose_tracking.npz'), **out)
