"""People per second of `inference_topdown`: one person per forward pass (batch 1) against all the people of an image at once (batch 64).

Usage: python bench/inference.py [SECONDS] [THREADS]

64 people on one COCO sample image (the detector boxes of samples/coco/000000197388.jpg, then those of 000000196141.jpg), flip
test on, crops cut on the CPU and normalised on the device, keypoints back in image pixels: the whole `inference_topdown` call,
best of 3 rounds of SECONDS (default 3). Models: MMPose's td-hm_res18-tiny reference (ResNet-18 at width 16, shared/reference/models)
and, on CUDA only, SimpleBaseline ResNet-50 (MMPose's td-hm_res50_coco-256x192 architecture, random weights). CPU runs use THREADS
PyTorch threads (default: PyTorch's). The crop time alone (`topdown_crops`) is printed too.
The last line is `inference: key=value ...`: people/s per device and model, batch 1 and 64, and their ratio.
"""
import copy, json, os, sys, time
from pathlib import Path
import numpy as np, torch
from poseai.core import bbox_xywh2xyxy
from poseai.estimators import build_pose_estimator
from poseai.inference import crop_geometry, inference_topdown, load_image, topdown_crops
from train import config   # bench/train.py: MMPose's top-down configs

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('POSEAI_SHARED', ROOT.parent / 'shared'))   # the shared/ folder beside the repository
DECODER = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

def tiny_model():
    "The td-hm_res18-tiny reference model with its checkpoint."
    models = SHARED / 'reference/models'
    cfg = copy.deepcopy(json.loads((models / 'MANIFEST.json').read_text())['models']['td-hm_res18-tiny']['config'])
    cfg['head']['decoder'] = DECODER
    est = build_pose_estimator(dict(cfg, metainfo='coco'))
    est.load_state_dict(torch.load(models / 'td-hm_res18-tiny.pth', weights_only=True)['state_dict'])
    return est.eval()

def people_boxes():
    "The image and 64 boxes x1, y1, x2, y2."
    coco = SHARED / 'data/samples/coco'
    dets = json.loads((coco / 'test_coco_det_AP_H_56.json').read_text())
    boxes = [d['bbox'] for img_id in (197388, 196141) for d in dets if d['image_id'] == img_id][:64]
    return load_image(coco / '000000197388.jpg'), bbox_xywh2xyxy(np.array(boxes, np.float32))

def rate(fn, n_people, budget, device):
    "People per second of `fn()`, which handles `n_people`: the best of 3 rounds of `budget` seconds (after one warm-up call)."
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    fn(); sync()
    best = 0.
    for _ in range(3):
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < budget: fn(); calls += 1
        sync()
        best = max(best, calls * n_people / (time.perf_counter() - start))
    return best

def main(budget=3., threads=None):
    budget = float(budget)
    if threads: torch.set_num_threads(int(threads))
    if not (SHARED / 'reference/models/MANIFEST.json').exists(): sys.exit('shared/ is absent: this benchmark needs the shared/ folder beside the repository')
    img, boxes = people_boxes()
    runs = [('cpu', 'tiny', tiny_model)]
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        runs += [('cuda', 'tiny', tiny_model), ('cuda', 'res50', lambda: build_pose_estimator(config('res50')).eval())]
    crop_rate = rate(lambda: topdown_crops(img, boxes, (192, 256)), len(boxes), budget, torch.device('cpu'))
    print(f'inference_topdown, {len(boxes)} people on one 640x392 image, 256x192 crops, flip test, best of 3 x {budget:g} s; '
          f'CPU: {torch.get_num_threads()} threads')
    print(f'  cropping alone (CPU, validation pipeline):  {crop_rate:8.1f} people/s')
    figures = {}
    for device, name, make in runs:
        model = make().to(device)
        assert crop_geometry(model) == ((192, 256), False)
        with torch.inference_mode():
            b1 = rate(lambda: inference_topdown(model, img, boxes[:8], batch_size=1), 8, budget, torch.device(device))
            b64 = rate(lambda: inference_topdown(model, img, boxes, batch_size=64), len(boxes), budget, torch.device(device))
        print(f'  {device:4s} {name:5s}  batch 1: {b1:8.1f} people/s   batch 64: {b64:8.1f} people/s   ratio {b64 / b1:5.2f}x')
        figures.update({f'{device}_{name}_b1': b1, f'{device}_{name}_b64': b64, f'{device}_{name}_ratio': b64 / b1})
    print('inference: ' + ' '.join(f'{k}={v:.3g}' if 'ratio' in k else f'{k}={v:.1f}' for k, v in figures.items()))

if __name__ == '__main__': main(*sys.argv[1:])
