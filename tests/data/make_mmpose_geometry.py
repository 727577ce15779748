"Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_geometry.npz: MMPose's box and keypoint functions on random inputs."
import numpy as np
from mmpose.structures.bbox import transforms as T
from mmpose.structures.keypoint import flip_keypoints
rng = np.random.default_rng(0)
xyxy = np.sort(rng.uniform(0, 500, (50, 2, 2)), axis=1).transpose(0, 2, 1).reshape(50, 4)[:, [0, 2, 1, 3]].astype(np.float32)
xyxy = np.concatenate([np.minimum(xyxy[:, :2], xyxy[:, 2:]), np.maximum(xyxy[:, :2], xyxy[:, 2:])], 1)
xywh = T.bbox_xyxy2xywh(xyxy)
out = dict(xyxy=xyxy, xywh=xywh, xywh2xyxy=T.bbox_xywh2xyxy(xywh))
for p in (1., 1.25):
    c, s = T.bbox_xyxy2cs(xyxy, p); out[f'c{p}'], out[f's{p}'] = c, s
    c2, s2 = T.bbox_xywh2cs(xywh, p); out[f'c2{p}'], out[f's2{p}'] = c2, s2
    out[f'cs2xyxy{p}'] = T.bbox_cs2xyxy(c, s, p); out[f'cs2xywh{p}'] = T.bbox_cs2xywh(c, s, p)
for fmt in ('xywh', 'xyxy', 'center'):
    for d in ('horizontal', 'vertical', 'diagonal'):
        b = xyxy if fmt == 'xyxy' else xywh if fmt == 'xywh' else xyxy[:, :2]
        out[f'flip_{fmt}_{d}'] = T.flip_bbox(b, (640, 480), fmt, d)
out['clip'] = T.bbox_clip_border(xyxy.copy() - 100, (300, 200))
kps = rng.uniform(0, 400, (3, 17, 2)).astype(np.float32); vis = rng.random((3, 17)).astype(np.float32)
fi = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
out['kps'], out['vis'] = kps, vis
for d in ('horizontal', 'vertical', 'diagonal'):
    k, v = flip_keypoints(kps.copy(), vis.copy(), (640, 480), fi, d); out[f'fk_{d}'], out[f'fv_{d}'] = k, v
from pathlib import Path
np.savez_compressed(Path(__file__).with_name('mmpose_geometry.npz'), **out)
