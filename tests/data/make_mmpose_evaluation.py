"""Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_evaluation.npz: MMPose's metrics on random inputs.

Inputs (random, seeded) and MMPose's outputs are saved side by side; `results` holds the metric dicts as JSON. The COCO cases
use the sample annotation files in ../shared/data/samples/coco; per-part COCO-WholeBody figures (which MMPose computes but
does not return) are read from xtcocotools with MMPose's own results file."""
import json, tempfile, warnings
from pathlib import Path
import numpy as np
from mmpose.evaluation import functional as F
from mmpose.evaluation.metrics import (AUC, EPE, MPJPE, NME, CocoMetric, CocoWholeBodyMetric, JhmdbPCKAccuracy, KeypointPartitionMetric,
                                       MpiiPCKAccuracy, PCKAccuracy)
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.utils import register_all_modules
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

register_all_modules()
warnings.filterwarnings('ignore')
SHARED = Path(__file__).resolve().parents[3] / 'shared'
COCO_DIR = SHARED / 'data/samples/coco'
rng = np.random.default_rng(0)
out, results = {}, {}

def meta(name):
    "MMPose's parsed meta information of a dataset in shared/data/metainfo (lists turned into MMPose's dicts)."
    m = json.loads((SHARED / f'data/metainfo/{name}.json').read_text())
    for k in ('keypoint_info', 'skeleton_info'):
        if isinstance(m[k], list): m[k] = dict(enumerate(m[k]))
    return {**parse_pose_metainfo(m), 'CLASSES': [dict(id=1, name='person')]}

def evaluate(metric, samples, dataset_meta=None):
    "MMPose's `evaluate` of `metric` on data samples, with plain-float results."
    if dataset_meta is not None: metric.dataset_meta = dataset_meta
    metric.process([], samples)
    return {k: float(v) for k, v in metric.evaluate(len(samples)).items()}

def keypoint_samples(pred, gt, visible, **gt_items):
    "One MMPose data sample per instance."
    return [dict(pred_instances=dict(keypoints=pred[i:i + 1]),
                 gt_instances=dict(keypoints=gt[i:i + 1], keypoints_visible=visible[i:i + 1], **{k: v[i:i + 1] for k, v in gt_items.items()}))
            for i in range(len(pred))]

# functional: SimCC PCK and box NMS
sx, sy = rng.random((2, 3, 5, 40)), rng.random((2, 3, 5, 50))
sm = rng.random((3, 5)) > 0.2
out.update(simcc_pred_x=sx[0], simcc_gt_x=sx[1], simcc_pred_y=sy[0], simcc_gt_y=sy[1], simcc_mask=sm)
acc, avg, cnt = F.simcc_pck_accuracy((sx[0], sy[0]), (sx[1], sy[1]), 2.0, sm, thr=0.1)
out.update(simcc_acc=acc, simcc_avg=avg, simcc_cnt=cnt)
xy = rng.uniform(0, 100, (20, 2))
dets = np.concatenate([xy, xy + rng.uniform(10, 40, (20, 2)), rng.random((20, 1))], 1)
out.update(dets=dets, box_keep=np.array(F.nms(dets, 0.3)))

# 2-D keypoint metrics: 10 instances of 16 keypoints (MPII's and JHMDB's tables read keypoints up to 15)
N, K = 10, 16
gt = rng.uniform(0, 200, (N, K, 2)).astype(np.float32)
pred = (gt + rng.normal(0, 6, (N, K, 2))).astype(np.float32)
visible = (rng.random((N, K)) > 0.15).astype(np.float32)
visible[:, 7] = 0                                               # a keypoint nobody labelled
xy = rng.uniform(0, 50, (N, 2)).astype(np.float32)
bboxes = np.concatenate([xy, xy + rng.uniform(20, 80, (N, 2)).astype(np.float32)], 1)
head_size = rng.uniform(10, 40, N).astype(np.float32)
head_size[3] = 0                                                # MPII: a zero head size
samples = keypoint_samples(pred, gt, visible, bboxes=bboxes, head_size=head_size)
out.update(kp_pred=pred, kp_gt=gt, kp_visible=visible, kp_bboxes=bboxes, kp_head_size=head_size)
results['pck'] = evaluate(PCKAccuracy(thr=0.2, norm_item=['bbox', 'head', 'torso']), samples)
results['mpii'] = evaluate(MpiiPCKAccuracy(), samples)
results['jhmdb'] = evaluate(JhmdbPCKAccuracy(thr=0.2, norm_item=['bbox', 'torso']), samples)
results['auc'] = evaluate(AUC(norm_factor=30, num_thrs=20), samples)
results['epe'] = evaluate(EPE(), samples)
nme_samples = keypoint_samples(pred, gt, visible, bboxes=bboxes)
results['nme_bbox'] = evaluate(NME('use_norm_item', norm_item='bbox_size'), nme_samples)
results['nme_keypoints'] = evaluate(NME('keypoint_distance', keypoint_indices=[0, 1]), nme_samples, dict(dataset_name='x', keypoint_id2name=dict(enumerate('abcdefghijklmnop'))))

# MPJPE: 6 single-frame 3-D samples of 17 keypoints from two actions
p3 = rng.normal(0, 1, (6, 1, 17, 3)).astype(np.float32)
g3 = (p3 * 1.1 + rng.normal(0, 0.1, (6, 1, 17, 3))).astype(np.float32)
m3 = rng.random((6, 1, 17)) > 0.1
paths = [f'S1_{a}.54138969_00000{i}.jpg' for i, a in enumerate(['Directions_1', 'Walking_1', 'Directions_1', 'Walking 1', 'Directions', 'Eating_2'])]
out.update(p3=p3, g3=g3, m3=m3, paths=np.array(paths))
mpjpe_samples = [dict(pred_instances=dict(keypoints=p3[i]), gt_instances=dict(lifting_target=g3[i], lifting_target_visible=m3[i]), target_img_path=[paths[i]])
                 for i in range(6)]
for mode in ('mpjpe', 'p-mpjpe', 'n-mpjpe'):
    results[f'mpjpe_{mode}'] = evaluate(MPJPE(mode=mode, skip_list=['S1_Eating_2']), mpjpe_samples)

# COCO: noisy copies of the labelled annotations of test_coco_wholebody.json, plus an image without annotations
wholebody = json.loads((COCO_DIR / 'test_coco_wholebody.json').read_text())
wholebody['images'].append(dict(id=1, file_name='none.jpg', width=640, height=480))   # an image without annotations
tmp = Path(tempfile.mkdtemp())
ann_file = tmp / 'ann.json'
ann_file.write_text(json.dumps(wholebody))
anns = [a for a in wholebody['annotations'] if not a['iscrowd'] and a['num_keypoints'] > 0]
kps = np.stack([np.array(a['keypoints'], np.float32).reshape(-1, 3)[:, :2] for a in anns])
sizes = np.array([max(a['bbox'][2:]) for a in anns], np.float32)
coco_kps = (kps + rng.normal(0, 0.03, kps.shape) * sizes[:, None, None]).astype(np.float32)
coco_scores = rng.uniform(0.05, 1, kps.shape[:2]).astype(np.float32)
ids, img_ids = [a['id'] for a in anns], [a['image_id'] for a in anns]
# extra instances: a near copy of the first (NMS drops it), a repeated id (dropped), one on the image without annotations, one with zero scores
extra_kps = np.stack([coco_kps[0] + 1, coco_kps[1], coco_kps[2] + 40, coco_kps[3]])
extra_scores = np.stack([coco_scores[0] * 0.9, coco_scores[1], coco_scores[2], np.zeros_like(coco_scores[3])])
coco_kps, coco_scores = np.concatenate([coco_kps, extra_kps]), np.concatenate([coco_scores, extra_scores])
ids += [10**7, ids[1], 10**7 + 1, 10**7 + 2]
img_ids += [img_ids[0], img_ids[1], 1, img_ids[3]]
n = len(ids)
bbox_scores = rng.uniform(0.3, 1, n)
areas = np.array([a['area'] for a in anns] + [anns[0]['area'], anns[1]['area'], 5000., anns[3]['area']]) * rng.uniform(1.2, 1.8, n)
xy = coco_kps.min(1)
pred_bboxes = np.concatenate([xy, coco_kps.max(1) + 5], 1).astype(np.float32)
out.update(coco_kps=coco_kps, coco_scores=coco_scores, coco_ids=np.array(ids), coco_img_ids=np.array(img_ids), coco_bbox_scores=bbox_scores,
           coco_areas=areas, coco_bboxes=pred_bboxes)

def coco_samples(with_bboxes=False):
    "One data sample per prediction: area from `bbox_scales` (their product)."
    return [dict(id=ids[i], img_id=img_ids[i],
                 pred_instances=dict(keypoints=coco_kps[i:i + 1], keypoint_scores=coco_scores[i:i + 1], **(dict(bboxes=pred_bboxes[i:i + 1]) if with_bboxes else {})),
                 gt_instances=dict(bbox_scores=bbox_scores[i:i + 1], bbox_scales=np.array([[areas[i], 1.]])))
            for i in range(n)]

COCO_CASES = dict(default={}, soft=dict(nms_mode='soft_oks_nms'), none_bbox=dict(nms_mode='none', score_mode='bbox'), keypoint=dict(score_mode='keypoint'),
                  rle=dict(score_mode='bbox_rle'), no_area=dict(use_area=False), bboxes=dict(nms_thr=0.5))
for case, kwargs in COCO_CASES.items():
    results[f'coco_{case}'] = evaluate(CocoMetric(ann_file=str(ann_file), **kwargs), coco_samples(case == 'bboxes'), meta('coco'))

# COCO-WholeBody: all 133 keypoints, noise in proportion to each part's size
wb_anns = [a for a in wholebody['annotations'] if not a['iscrowd']]
parts = ('keypoints', 'foot_kpts', 'face_kpts', 'lefthand_kpts', 'righthand_kpts')
wb = np.stack([np.concatenate([np.array(a[p], np.float32).reshape(-1, 3) for p in parts]) for a in wb_anns])
noise = np.concatenate([np.full(17, 0.02), np.full(6, 0.01), np.full(68, 0.003), np.full(42, 0.006)])
wb_kps = (wb[..., :2] + rng.normal(0, 1, wb[..., :2].shape) * noise[None, :, None] * np.array([max(a['bbox'][2:]) for a in wb_anns])[:, None, None]).astype(np.float32)
wb_scores = rng.uniform(0.05, 1, wb.shape[:2]).astype(np.float32)
wb_bbox_scores, wb_areas = rng.uniform(0.3, 1, len(wb_anns)), np.array([a['area'] for a in wb_anns]) * 1.5
out.update(wb_kps=wb_kps, wb_scores=wb_scores, wb_ids=np.array([a['id'] for a in wb_anns]), wb_img_ids=np.array([a['image_id'] for a in wb_anns]),
           wb_bbox_scores=wb_bbox_scores, wb_areas=wb_areas)
wb_samples = [dict(id=a['id'], img_id=a['image_id'], pred_instances=dict(keypoints=wb_kps[i:i + 1], keypoint_scores=wb_scores[i:i + 1]),
                   gt_instances=dict(bbox_scores=wb_bbox_scores[i:i + 1], bbox_scales=np.array([[wb_areas[i], 1.]])))
              for i, a in enumerate(wb_anns)]
wb_meta = meta('coco_wholebody')
results['wholebody'] = evaluate(CocoWholeBodyMetric(ann_file=str(ann_file), outfile_prefix=str(tmp / 'wb')), wb_samples, wb_meta)
gt_coco, cuts = COCO(str(ann_file)), np.cumsum([0, 17, 6, 68, 21, 21])
dt_coco = gt_coco.loadRes(str(tmp / 'wb.keypoints.json'))
for i, part in enumerate(('body', 'foot', 'face', 'lefthand', 'righthand')):
    e = COCOeval(gt_coco, dt_coco, f'keypoints_{part}', wb_meta['sigmas'][cuts[i]:cuts[i + 1]], use_area=True)
    e.params.useSegm = None
    e.evaluate(); e.accumulate(); e.summarize()
    results['wholebody'].update({f'{part}/{k}': float(v) for k, v in zip(['AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75', 'AR (M)', 'AR (L)'], e.stats)})

# KeypointPartitionMetric on the 133 keypoints of test_keypoint_partition_metric.json (ground truth from the samples' raw annotations)
part_json = json.loads((COCO_DIR / 'test_keypoint_partition_metric.json').read_text())
images = {im['id']: im for im in part_json['images']}
PARTITIONS = dict(body=range(17), foot=range(17, 23), face=range(23, 91), hands=range(91, 133), all=range(133))
gt_wb = np.stack([np.array(a['keypoints'], np.float32).reshape(-1, 3) for a in part_json['annotations']])
part_bboxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in part_json['annotations'])], np.float32)

def partition_samples():
    return [dict(id=a['id'], img_id=a['image_id'], raw_ann_info=dict(a), ori_shape=(images[a['image_id']]['height'], images[a['image_id']]['width']),
                 pred_instances=dict(keypoints=wb_kps[i:i + 1], keypoint_scores=wb_scores[i:i + 1]),
                 gt_instances=dict(bbox_scores=wb_bbox_scores[i:i + 1], bbox_scales=np.array([[wb_areas[i], 1.]]), keypoints=gt_wb[i:i + 1, :, :2],
                                   keypoints_visible=(gt_wb[i:i + 1, :, 2] > 0).astype(np.float32), bboxes=part_bboxes[i:i + 1]))
            for i, a in enumerate(part_json['annotations'])]

assert [a['id'] for a in part_json['annotations']] == [a['id'] for a in wb_anns]
partitions = {k: list(v) for k, v in PARTITIONS.items()}
results['partition_coco'] = evaluate(KeypointPartitionMetric(dict(type='CocoMetric', score_mode='bbox', nms_mode='none'), partitions), partition_samples(), wb_meta)
results['partition_pck'] = evaluate(KeypointPartitionMetric(dict(type='PCKAccuracy', thr=0.05), partitions), partition_samples(), wb_meta)

out['results'] = np.array(json.dumps(results))
np.savez_compressed(Path(__file__).with_name('mmpose_evaluation.npz'), **out)
print({k: len(v) for k, v in results.items()})
