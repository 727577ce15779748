"Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_inference.npz: MMPose's `inference_topdown` with the td-hm_res18-tiny reference model on samples/coco, for the boxes of test_coco_det_AP_H_56.json and for the whole image."
import copy, json, os
from pathlib import Path
import numpy as np, torch
import mmpose
from mmengine.config import Config
from mmpose.apis import inference_topdown
from mmpose.registry import MODELS
from mmpose.utils import register_all_modules
from mmpose.datasets.datasets.utils import parse_pose_metainfo

SHARED = Path(__file__).resolve().parents[3] / 'shared'
MODELS_DIR, COCO = SHARED / 'reference/models', SHARED / 'data/samples/coco'
register_all_modules()
cfg = copy.deepcopy(json.loads((MODELS_DIR / 'MANIFEST.json').read_text())['models']['td-hm_res18-tiny']['config'])
cfg['head']['decoder'] = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = MODELS.build(cfg)
model.load_state_dict(torch.load(MODELS_DIR / 'td-hm_res18-tiny.pth', weights_only=True)['state_dict'], strict=True)
model.eval()
model.cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), dict(type='TopdownAffine', input_size=(192, 256)), dict(type='PackPoseInputs')]))))
model.dataset_meta = parse_pose_metainfo(dict(from_file=os.path.join(os.path.dirname(mmpose.__file__), '.mim/configs/_base_/datasets/coco.py')))
dets = json.loads((COCO / 'test_coco_det_AP_H_56.json').read_text())
out = {}
for img in json.loads((COCO / 'test_coco.json').read_text())['images']:
    img_id, path = img['id'], str(COCO / img['file_name'])
    boxes = np.array([d['bbox'] for d in dets if d['image_id'] == img_id], np.float32)
    for key, res in (('', inference_topdown(model, path, boxes, bbox_format='xywh')), ('whole_', inference_topdown(model, path))):
        out[f'{img_id}_{key}keypoints'] = np.concatenate([r.pred_instances.keypoints for r in res]).astype(np.float32)
        out[f'{img_id}_{key}scores'] = np.concatenate([r.pred_instances.keypoint_scores for r in res]).astype(np.float32)
    out[f'{img_id}_boxes_xywh'] = boxes
np.savez_compressed(Path(__file__).with_name('mmpose_inference.npz'), **out)
