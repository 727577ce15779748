"Inference: MMPose's `inference_topdown` numbers, keypoints inside their crops, batching, images/folders/videos, the detector wrapper, `infer` and `test`, bad input."
import json, warnings
from pathlib import Path
import cv2, numpy as np, pytest, torch
from conftest import data_file
from test_estimators import reference
from poseai.core import PoseaiError, bbox_xyxy2cs, fix_aspect_ratio
from poseai.estimators import save_pose_checkpoint
from poseai.evaluation import CocoMetric
from poseai.inference import *

DATA = Path(__file__).parent / 'data'
IMAGES = (785, 40083, 196141, 197388)

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    "One intra-op thread: on a busy shared CPU, two threads make a batch-of-one forward pass up to 25 times slower."
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

@pytest.fixture(scope='module')
def est(): return reference('td-hm_res18-tiny')[0]

@pytest.fixture(scope='module')
def mmpose(): return dict(np.load(DATA / 'mmpose_inference.npz'))

def coco(*parts): return data_file('samples', 'coco', *parts)
def image_path(img_id): return coco(f'{img_id:012d}.jpg')

@pytest.fixture(scope='module')
def detected(est, mmpose):
    "Our results for the detector's boxes (those of test_coco_det_AP_H_56.json, as MMPose got them), per image."
    return {i: inference_topdown(est, image_path(i), mmpose[f'{i}_boxes_xywh'], bbox_format='xywh') for i in IMAGES}

def stacked(results, key): return np.stack([r[key] for r in results])

def test_fixture_boxes_are_the_detection_file(mmpose):
    dets = json.loads(coco('test_coco_det_AP_H_56.json').read_text())
    for i in IMAGES: np.testing.assert_allclose(mmpose[f'{i}_boxes_xywh'], [d['bbox'] for d in dets if d['image_id'] == i], rtol=1e-6)

def assert_matches_mmpose(keypoints, scores, mm_keypoints, mm_scores, max_ties=0.01):
    """Scores equal MMPose's (to 1e-6) and keypoints too (to 1e-3 px), except where the heatmap's maximum is a tie.
    These random weights make flat heatmaps: two pixels can hold the same maximum (the scores agree) and the last bit
    of a convolution, which differs between CPUs (oneDNN's kernels for AVX2 and AVX-512), picks the other one; at a
    maximum of 0 it decides between a keypoint and MMPose's not-found marker. Such ties are at most `max_ties` of all."""
    np.testing.assert_allclose(scores, mm_scores, atol=1e-6, rtol=0)
    moved = np.abs(keypoints - mm_keypoints).max(-1) > 1e-3
    assert moved.mean() <= max_ties, f'{moved.sum()} of {moved.size} keypoints differ from MMPose'

def test_detected_people_match_mmpose(detected, mmpose):
    "MMPose 1.3.2's inference_topdown, same model and boxes: keypoints differ by 6.1e-5 px at most (float32 rounding in image pixels) but for ties, scores by 0."
    for i, results in detected.items():
        assert_matches_mmpose(stacked(results, 'keypoints'), stacked(results, 'keypoint_scores'), mmpose[f'{i}_keypoints'], mmpose[f'{i}_scores'])

def test_whole_image_without_boxes_matches_mmpose(est, mmpose):
    for i in IMAGES:
        for boxes in (None, []):
            (result,) = inference_topdown(est, image_path(i), boxes)
            h, w = cv2.imread(str(image_path(i))).shape[:2]
            np.testing.assert_array_equal(result['bbox'], [0, 0, w, h])
            assert_matches_mmpose(result['keypoints'], result['keypoint_scores'], mmpose[f'{i}_whole_keypoints'][0], mmpose[f'{i}_whole_scores'][0], max_ties=1 / 17)

def test_every_keypoint_maps_back_inside_its_padded_box(detected):
    """Keypoints found (score > 0) lie in the crop's region: the box padded by 1.25 and widened to the input's 3:4.
    Keypoints not found (heatmap maximum <= 0) sit at MMPose's marker, heatmap pixel (-1, -1), 4 input pixels up and left of the region."""
    n_found = 0
    for results in detected.values():
        for r in results:
            center, scale = bbox_xyxy2cs(r['bbox'], padding=1.25)
            np.testing.assert_allclose(r['bbox_center'], center, rtol=1e-6)
            np.testing.assert_allclose(r['bbox_scale'], fix_aspect_ratio(scale, 192 / 256), rtol=1e-5)
            low, high = center - r['bbox_scale'] / 2, center + r['bbox_scale'] / 2
            found = r['keypoint_scores'] > 0
            assert ((r['keypoints'][found] >= low - 1e-3) & (r['keypoints'][found] <= high + 1e-3)).all()
            np.testing.assert_allclose((r['keypoints'][~found] - low) / r['bbox_scale'] * [192, 256], -4, atol=1e-2)
            n_found += found.sum()
    assert n_found > 0.5 * sum(17 * len(r) for r in detected.values())

def test_batched_64_people_equal_one_by_one(est, mmpose):
    "64 boxes on one image (its detections, then another image's), without flip test to keep the test short (flip test adds no batching)."
    boxes = np.concatenate([mmpose['197388_boxes_xywh'], mmpose['196141_boxes_xywh']])[:64]
    img = load_image(image_path(197388))
    batched = inference_topdown(est, img, boxes, 'xywh', flip_test=False, batch_size=64)
    single = inference_topdown(est, img, boxes, 'xywh', flip_test=False, batch_size=1)
    assert len(batched) == len(single) == 64
    for key in ('keypoints', 'keypoint_scores'): np.testing.assert_allclose(stacked(batched, key), stacked(single, key), atol=1e-5, rtol=0)

def test_many_people_are_cut_one_batch_at_a_time(est, monkeypatch):
    "150 boxes at batch size 64: three crop calls of 64, 64 and 22 boxes (memory bounded by a batch), the same keypoints as one batch of 150."
    import poseai.inference as inference
    img, rng = load_image(image_path(785)), np.random.default_rng(0)
    xy = rng.uniform(0, 300, (150, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(50, 150, (150, 2))], 1).astype(np.float32)
    whole = inference_topdown(est, img, boxes, flip_test=False, batch_size=150)
    sizes, crop = [], inference.topdown_crops
    monkeypatch.setattr(inference, 'topdown_crops', lambda img, bboxes, *a: sizes.append(len(bboxes)) or crop(img, bboxes, *a))
    batched = inference_topdown(est, img, boxes, flip_test=False, batch_size=64)
    assert sizes == [64, 64, 22] and len(batched) == 150
    for key in ('keypoints', 'keypoint_scores', 'bbox', 'bbox_center'): np.testing.assert_allclose(stacked(batched, key), stacked(whole, key), atol=1e-5, rtol=0)

def test_boxes_keep_their_scores_and_formats(est):
    img = np.zeros((100, 80, 3), np.uint8)
    xyxy = inference_topdown(est, img, [[10, 10, 50, 90, 0.7]], flip_test=False)[0]
    xywh = inference_topdown(est, img, [[10, 10, 40, 80]], 'xywh', flip_test=False)[0]
    np.testing.assert_allclose(xyxy['bbox'], [10, 10, 50, 90]); assert np.isclose(xyxy['bbox_score'], 0.7)
    np.testing.assert_allclose(xywh['bbox'], xyxy['bbox']); assert xywh['bbox_score'] == 1

def test_bad_images_boxes_and_sources_name_the_problem(est, tmp_path):
    with pytest.raises(PoseaiError, match='no_such.jpg'): inference_topdown(est, tmp_path / 'no_such.jpg')
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(PoseaiError, match='broken.jpg'): inference_topdown(est, tmp_path / 'broken.jpg')
    with pytest.raises(PoseaiError, match=r'\(h, w, 3\)'): inference_topdown(est, np.zeros((5, 5), np.float32))
    with pytest.raises(PoseaiError, match=r'\(N, 4\)'): inference_topdown(est, np.zeros((5, 5, 3), np.uint8), [[1, 2, 3]])
    with pytest.raises(PoseaiError, match='bbox_format'): inference_topdown(est, np.zeros((5, 5, 3), np.uint8), [[1, 2, 3, 4]], 'cxcywh')
    with pytest.raises(PoseaiError, match='batch_size'): inference_topdown(est, np.zeros((5, 5, 3), np.uint8), batch_size=0)
    inferencer = PoseInferencer(est)
    (tmp_path / 'notes.txt').write_text('hello')
    (tmp_path / 'broken.mp4').write_bytes(b'not a video')
    (tmp_path / 'empty').mkdir()
    for name, problem in (('notes.txt', 'not a supported'), ('missing.mp4', 'no such'), ('broken.mp4', 'video'), ('empty', 'no images')):
        with pytest.raises(PoseaiError, match=problem) as e: list(inferencer(tmp_path / name))
        assert name in str(e.value)

def test_head_without_decoder_is_explained(est):
    decoder, est.head.decoder = est.head.decoder, None
    try:
        with pytest.raises(PoseaiError, match='decoder'): inference_topdown(est, np.zeros((8, 8, 3), np.uint8))
    finally: est.head.decoder = decoder

def write_video(path, frames, fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, frames[0].shape[1::-1])
    for f in frames: writer.write(f)
    writer.release()

def test_inferencer_on_a_video_writes_an_mp4_and_one_json(est, tmp_path):
    rng = np.random.default_rng(0)
    write_video(tmp_path / 'clip.mp4', [rng.integers(0, 255, (64, 48, 3), dtype=np.uint8) for _ in range(3)])
    frames = list(PoseInferencer(est)(tmp_path / 'clip.mp4', out_dir=tmp_path / 'out', return_vis=True))
    assert [f['name'] for f in frames] == [0, 1, 2] and frames[0]['visualization'].shape == (64, 48, 3)
    assert int(cv2.VideoCapture(str(tmp_path / 'out/visualizations/clip.mp4')).get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    saved = json.loads((tmp_path / 'out/predictions/clip.json').read_text())
    assert [s['frame_id'] for s in saved] == [0, 1, 2]
    np.testing.assert_allclose(saved[2]['instances'][0]['keypoints'], frames[2]['predictions'][0]['keypoints'], rtol=1e-6)
    assert saved[2]['instances'][0]['bbox'] == [[0, 0, 48, 64]]   # MMPose's split_instances wraps the box in a list

def test_video_json_is_written_as_it_goes_and_always_whole(est, tmp_path):
    "Mid-video the JSON is only a temporary file; a run stopped after two frames leaves a whole JSON of those two."
    write_video(tmp_path / 'clip.mp4', [np.full((64, 48, 3), 10 * i, np.uint8) for i in range(5)])
    frames = PoseInferencer(est, flip_test=False, progress=False)(tmp_path / 'clip.mp4', out_dir=tmp_path / 'out')
    next(frames); next(frames)
    assert [p.name for p in (tmp_path / 'out/predictions').iterdir()] == ['.clip.json.tmp']
    frames.close()   # the consumer stops (or fails) after two frames
    assert [p.name for p in (tmp_path / 'out/predictions').iterdir()] == ['clip.json']
    assert [f['frame_id'] for f in json.loads((tmp_path / 'out/predictions/clip.json').read_text())] == [0, 1]

def test_progress_bars_over_folders_and_videos_can_be_turned_off(est, tmp_path, capsys):
    for i in range(2): cv2.imwrite(str(tmp_path / f'{i}.png'), np.zeros((64, 48, 3), np.uint8))
    assert len(list(PoseInferencer(est, flip_test=False)(tmp_path))) == 2
    assert '100.00% [2/2' in capsys.readouterr().out
    assert len(list(PoseInferencer(est, flip_test=False, progress=False)(tmp_path))) == 2
    list(PoseInferencer(est, flip_test=False)(tmp_path / '0.png'))   # one image: no bar
    assert capsys.readouterr().out == ''

def test_inferencer_on_a_folder_uses_boxes_per_file(est, tmp_path):
    img = load_image(image_path(785))
    for name in ('b.png', 'a.jpg'): cv2.imwrite(str(tmp_path / name), img[..., ::-1])
    (tmp_path / 'skip.txt').write_text('not an image')
    boxes = {'a': np.array([[280, 40, 500, 380, 0.9]]), 'b.png': np.array([[0, 0, 100, 100], [100, 100, 300, 300]])}
    frames = list(PoseInferencer(est, flip_test=False)(tmp_path, bboxes=boxes, out_dir=tmp_path / 'out'))
    assert [(f['name'], len(f['predictions'])) for f in frames] == [('a.jpg', 1), ('b.png', 2)]
    assert sorted(p.name for p in (tmp_path / 'out').rglob('*.*')) == ['a.jpg', 'a.json', 'b.jpg', 'b.json']
    direct = inference_topdown(est, img, boxes['b.png'], flip_test=False)   # png is lossless: the same pixels
    np.testing.assert_allclose(stacked(frames[1]['predictions'], 'keypoints'), stacked(direct, 'keypoints'), atol=1e-5)

def test_inferencer_filters_detections_as_mmpose(est):
    "Detections scoring at most bbox_thr go, then box NMS at nms_thr; none left means the whole image."
    dets = np.array([[10, 10, 50, 90, 0.9], [11, 10, 51, 90, 0.8], [60, 10, 70, 30, 0.3], [60, 40, 75, 60, 0.31]], np.float32)
    inferencer = PoseInferencer(est, detector=lambda img: dets)
    np.testing.assert_array_equal(inferencer.boxes(np.zeros((100, 100, 3), np.uint8)), dets[[0, 3]])
    nothing = PoseInferencer(est, detector=lambda img: np.zeros((0, 5)))
    (result,) = nothing.predict(np.zeros((40, 30, 3), np.uint8))
    np.testing.assert_array_equal(result['bbox'], [0, 0, 30, 40])

def test_torchvision_detector_loads_local_weights_and_keeps_people(tmp_path):
    "A random model whose classifier favours classes 1 (person) and 2: the detector keeps the class-1 boxes above score_thr."
    import torchvision.models.detection as tvd
    torch.manual_seed(0)
    name, fast = 'fasterrcnn_mobilenet_v3_large_320_fpn', dict(rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=20)
    model = getattr(tvd, name)(weights=None, weights_backbone=None)
    with torch.no_grad(): model.roi_heads.box_predictor.cls_score.bias[1:3] = 4.
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'det.pth')
    det = TorchvisionDetector(tmp_path / 'det.pth', name, score_thr=0.2, device='cpu', **fast)
    img = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = det(img)
    with torch.no_grad(): raw = det.model([torch.from_numpy(img).permute(2, 0, 1).float() / 255])[0]
    people = (raw['labels'] == 1) & (raw['scores'] >= 0.2)
    assert people.any() and (raw['labels'] == 2).any()
    assert boxes.dtype == np.float32 and boxes.shape == (int(people.sum()), 5)
    np.testing.assert_allclose(boxes, torch.cat([raw['boxes'][people], raw['scores'][people, None]], 1).numpy(), rtol=1e-6)
    det.cat_ids = (1, 2)
    assert len(det(img)) == int(((raw['labels'] <= 2) & (raw['scores'] >= 0.2)).sum())
    det.score_thr = raw['scores'].max().item() + 1e-3
    assert det(img).shape == (0, 5)

def test_torchvision_detector_errors_name_the_file(tmp_path):
    with pytest.raises(PoseaiError, match='missing.pth'): TorchvisionDetector(tmp_path / 'missing.pth', 'ssdlite320_mobilenet_v3_large')
    torch.save({'weight': torch.zeros(3)}, tmp_path / 'other.pth')
    with pytest.raises(PoseaiError, match='other.pth'): TorchvisionDetector(tmp_path / 'other.pth', 'ssdlite320_mobilenet_v3_large')
    with pytest.raises(PoseaiError, match='not a torchvision detection model'): TorchvisionDetector(tmp_path / 'other.pth', 'resnet50')

def test_load_boxes_reads_coco_detections_and_dicts(tmp_path):
    boxes = load_boxes(coco('test_coco_det_AP_H_56.json'))
    assert {k: len(v) for k, v in boxes.items()} == {785: 22, 40083: 26, 196141: 33, 197388: 37}
    (tmp_path / 'b.json').write_text(json.dumps({'a.jpg': [[1, 2, 3, 4, 0.5]], 'b': []}))
    table = load_boxes(tmp_path / 'b.json')
    assert table['a.jpg'].shape == (1, 5) and len(table['b']) == 0
    assert frame_boxes(boxes, '000000000785.jpg') is boxes[785] and frame_boxes(table, 'a.jpg') is table['a.jpg']
    (tmp_path / 'bad.json').write_text('[1, 2]')
    with pytest.raises(PoseaiError, match='bad.json'): load_boxes(tmp_path / 'bad.json')

def test_infer_writes_predictions_and_drawings(est, tmp_path):
    ckpt = save_pose_checkpoint(est, tmp_path / 'model.pth')
    summary = infer(ckpt, image_path(40083), tmp_path / 'out', bboxes=coco('test_coco_det_AP_H_56.json'), device='cpu', flip_test=False)
    assert (summary['frames'], summary['people']) == (1, 26)
    assert sorted(Path(f).name for f in summary['files']) == ['000000040083.jpg', '000000040083.json']
    assert len(json.loads((tmp_path / 'out/predictions/000000040083.json').read_text())) == 26

def test_test_feeds_the_metric_what_inference_gives(est, tmp_path, capsys):
    "`test` (DataLoader, crops by the pipeline, ids and areas from the dataset) gives CocoMetric the instances that inference_topdown on the same boxes gives."
    ckpt = save_pose_checkpoint(est, tmp_path / 'model.pth')
    ann_file = coco('test_coco.json')
    ours = CocoMetric(ann_file, 'coco')
    metrics = evaluate_checkpoint(ckpt, ann_file, ann_file.parent, metric=ours, device='cpu', flip_test=False, batch_size=5)
    assert '100.00% [3/3' in capsys.readouterr().out   # the progress bar over the batches
    from poseai.datasets import CocoDataset
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ds = CocoDataset(ann_file, data_prefix=dict(img=ann_file.parent), test_mode=True)
    direct = CocoMetric(ann_file, 'coco')
    for r in ds.data_list: direct.process([dict(inference_topdown(est, r['img_path'], r['bbox'], flip_test=False)[0], img_id=r['img_id'], id=r['id'])])
    assert len(ours.results) == len(direct.results) == len(ds) > 10
    for a, b in zip(ours.results, direct.results):
        assert (a['img_id'], a['id'], a['category_id']) == (b['img_id'], b['id'], b['category_id'])
        np.testing.assert_allclose(a['keypoints'], b['keypoints'], atol=1e-4)
        np.testing.assert_allclose(np.r_[a['keypoint_scores'], a['area'], a['bbox_score']], np.r_[b['keypoint_scores'], b['area'], b['bbox_score']], atol=1e-6, rtol=1e-6)
    assert metrics == pytest.approx(direct.evaluate()) and set(metrics) >= {'AP', 'AP .5', 'AR'}
    assert 0 <= evaluate_checkpoint(ckpt, ann_file, ann_file.parent, metric='pck', device='cpu', flip_test=False, progress=False)['PCK'] <= 1
    assert capsys.readouterr().out == ''

def test_test_rejects_unknown_metrics_and_datasets(est, tmp_path):
    ckpt = save_pose_checkpoint(est, tmp_path / 'model.pth')
    ann_file = coco('test_coco.json')
    with pytest.raises(PoseaiError, match='NoSuchDataset'): evaluate_checkpoint(ckpt, ann_file, ann_file.parent, dataset='NoSuchDataset', device='cpu')
    with pytest.raises(PoseaiError, match='metric'): evaluate_checkpoint(ckpt, ann_file, ann_file.parent, metric='mAP', device='cpu')
