"Evaluation: MMPose's functional metrics, metric classes and COCO AP against numbers MMPose 1.3.2 computed, the torch path, edge cases."
import json
import numpy as np, pytest, torch
from pathlib import Path
from conftest import data_file
from poseai.core import PoseaiError
from poseai.metainfo import make_metainfo
from poseai.evaluation import *

# mmpose_evaluation.npz: inputs and MMPose 1.3.2's outputs, made by tests/data/make_mmpose_evaluation.py in the peer venv.
FIX = np.load(Path(__file__).parent / 'data/mmpose_evaluation.npz')
MMPOSE = json.loads(str(FIX['results']))
COCO_CASES = dict(default={}, soft=dict(nms_mode='soft_oks_nms'), none_bbox=dict(nms_mode='none', score_mode='bbox'), keypoint=dict(score_mode='keypoint'),
                  rle=dict(score_mode='bbox_rle'), no_area=dict(use_area=False), bboxes=dict(nms_thr=0.5))

def assert_same_metrics(ours, theirs, strip=''):
    "Same names in the same order and values within 1e-6 (MMPose's `coco/` style prefix `strip`ped)."
    theirs = {k.replace(strip, '', 1): v for k, v in theirs.items()}
    assert list(ours) == list(theirs)
    np.testing.assert_allclose([float(v) for v in ours.values()], list(theirs.values()), rtol=0, atol=1e-6)

@pytest.fixture(scope='module')
def ref(): return dict(np.load(data_file('reference', 'metrics.npz')))

# ---------------------------------------------------------------- functional, against tests/data/reference/metrics.npz

def test_pck_auc_nme_epe_match_mmpose(ref):
    acc, avg, cnt = keypoint_pck_accuracy(ref['pred'], ref['gt'], ref['mask'], 0.05, ref['norm'])
    assert acc.dtype == np.float64 and isinstance(avg, np.floating) and isinstance(cnt, int)
    np.testing.assert_allclose(acc, ref['pck_acc'], rtol=0, atol=1e-6)
    assert abs(avg - ref['pck_avg']) < 1e-6 and cnt == ref['pck_cnt']
    assert abs(keypoint_auc(ref['pred'], ref['gt'], ref['mask'], 30) - ref['auc']) < 1e-6
    assert abs(keypoint_nme(ref['pred'], ref['gt'], ref['mask'], ref['norm']) - ref['nme']) < 1e-6
    assert abs(keypoint_epe(ref['pred'], ref['gt'], ref['mask']) - ref['epe']) < 1e-6

def test_heatmap_pck_matches_mmpose(ref):
    acc, avg, cnt = pose_pck_accuracy(ref['hm_pred'], ref['hm_gt'], ref['hm_mask'])
    np.testing.assert_allclose(acc, ref['hm_acc'], rtol=0, atol=1e-6)
    assert abs(avg - ref['hm_avg']) < 1e-6 and cnt == ref['hm_cnt']

@pytest.mark.parametrize('alignment', ['none', 'scale', 'procrustes'])
def test_mpjpe_matches_mmpose(ref, alignment):
    assert abs(keypoint_mpjpe(ref['p3'], ref['g3'], ref['m3'], alignment) - ref[f'mpjpe_{alignment}']) < 1e-6

def test_oks_and_nms_match_mmpose(ref):
    np.testing.assert_allclose(oks_iou(ref['g_flat'], ref['d_flat'], ref['areas'][0], ref['areas'], ref['sigmas']), ref['oks'], rtol=0, atol=1e-6)
    db = [dict(keypoints=k, score=s, area=a) for k, s, a in zip(ref['nms_keypoints'], ref['nms_scores'], ref['areas'])]
    assert oks_nms(db, 0.9, ref['sigmas']).tolist() == ref['keep'].tolist()
    assert soft_oks_nms(db, 0.3, sigmas=ref['sigmas']).tolist() == ref['soft_keep'].tolist()

def test_simcc_pck_and_box_nms_match_mmpose():
    acc, avg, cnt = simcc_pck_accuracy((FIX['simcc_pred_x'], FIX['simcc_pred_y']), (FIX['simcc_gt_x'], FIX['simcc_gt_y']), 2.0, FIX['simcc_mask'], thr=0.1)
    np.testing.assert_allclose(acc, FIX['simcc_acc'], rtol=0, atol=1e-6)
    assert abs(avg - FIX['simcc_avg']) < 1e-6 and cnt == FIX['simcc_cnt']
    assert [int(i) for i in nms(FIX['dets'], 0.3)] == FIX['box_keep'].tolist()

# ---------------------------------------------------------------- the torch path: same numbers, tensors out, on the inputs' device

def torch_devices(): return ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])

@pytest.mark.parametrize('device', torch_devices())
def test_torch_pck_matches_numpy(ref, device):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)
    cases = [(keypoint_pck_accuracy, (ref['pred'], ref['gt'], ref['mask'], 0.05, ref['norm']), (0, 1, 2, 4)),
             (pose_pck_accuracy, (ref['hm_pred'], ref['hm_gt'], ref['hm_mask']), (0, 1, 2)),
             (lambda o, tg, m: simcc_pck_accuracy(o, tg, 2.0, m, thr=0.1), ((FIX['simcc_pred_x'], FIX['simcc_pred_y']), (FIX['simcc_gt_x'], FIX['simcc_gt_y']), FIX['simcc_mask']), ())]
    for fn, args, as_tensor in cases:
        expected = fn(*args)
        targs = [t(a) if i in as_tensor else tuple(map(t, a)) if isinstance(a, tuple) else a for i, a in enumerate(args)]
        if not as_tensor: targs[2] = t(args[2])
        acc, avg, cnt = fn(*targs)
        assert all(torch.is_tensor(x) and x.device.type == device for x in (acc, avg, cnt))
        np.testing.assert_allclose(acc.cpu().numpy(), expected[0], rtol=0, atol=1e-6)
        assert abs(float(avg) - expected[1]) < 1e-6 and int(cnt) == expected[2]

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_torch_pck_does_not_sync_the_gpu(ref):
    hm_pred, hm_gt, hm_mask = (torch.from_numpy(ref[k]).cuda() for k in ('hm_pred', 'hm_gt', 'hm_mask'))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try: pose_pck_accuracy(hm_pred, hm_gt, hm_mask)
    finally: torch.cuda.set_sync_debug_mode('default')

# ---------------------------------------------------------------- metric classes, against MMPose's on the same inputs

def keypoint_batches(as_dicts_of_tensors):
    "The fixture's 10 instances in two batches: dicts of tensors (a fastai batch) or lists of per-instance dicts (MMPose's samples)."
    pred, gt, vis, boxes, head = (FIX[k] for k in ('kp_pred', 'kp_gt', 'kp_visible', 'kp_bboxes', 'kp_head_size'))
    for rows in (slice(0, 4), slice(4, 10)):
        if as_dicts_of_tensors:
            yield dict(keypoints=torch.from_numpy(pred[rows])), dict(keypoints=torch.from_numpy(gt[rows]), keypoints_visible=torch.from_numpy(vis[rows]),
                                                                      bboxes=torch.from_numpy(boxes[rows]), head_size=torch.from_numpy(head[rows]))
        else:
            idx = range(10)[rows]
            yield ([dict(keypoints=pred[i:i + 1]) for i in idx],
                   [dict(keypoints=gt[i:i + 1], keypoints_visible=vis[i:i + 1, :, None], bboxes=boxes[i:i + 1], head_size=head[i:i + 1]) for i in idx])

KEYPOINT_METRICS = dict(pck=lambda: PCKAccuracy(thr=0.2, norm_item=['bbox', 'head', 'torso']), mpii=MpiiPCKAccuracy,
                        jhmdb=lambda: JhmdbPCKAccuracy(thr=0.2, norm_item=['bbox', 'torso']), auc=AUC, epe=EPE,
                        nme_bbox=lambda: NME('use_norm_item', norm_item='bbox_size'), nme_keypoints=lambda: NME('keypoint_distance', keypoint_indices=[0, 1]))

@pytest.mark.parametrize('name', KEYPOINT_METRICS)
@pytest.mark.parametrize('tensors', [True, False])
def test_keypoint_metrics_match_mmpose(name, tensors):
    metric = KEYPOINT_METRICS[name]()
    for batch in keypoint_batches(tensors): metric.process(*batch)
    assert_same_metrics(metric.evaluate(), MMPOSE[name])

@pytest.mark.parametrize('mode', ['mpjpe', 'p-mpjpe', 'n-mpjpe'])
def test_mpjpe_metric_matches_mmpose(mode):
    metric = MPJPE(mode, skip_list=['S1_Eating_2'])
    for i in range(6):
        metric.process([dict(keypoints=FIX['p3'][i])],
                       [dict(lifting_target=FIX['g3'][i], lifting_target_visible=FIX['m3'][i], target_img_path=[str(FIX['paths'][i])])])
    assert_same_metrics(metric.evaluate(), MMPOSE[f'mpjpe_{mode}'])

def test_process_reset_and_prefix():
    metric = EPE(prefix='val')
    for batch in keypoint_batches(True): metric.process(*batch)
    assert list(metric.evaluate()) == ['val/EPE']
    metric.reset()
    with pytest.raises(PoseaiError, match='process'): metric.evaluate()
    assert type(METRICS.build(dict(type='PCKAccuracy', thr=0.1))) is PCKAccuracy

# ---------------------------------------------------------------- COCO AP

def reference_predictions(name):
    "MMPose's stored predictions as instances (area: the product of the stored bbox_scale) and its results."
    stored = json.loads(data_file('reference', f'coco_metric_{name}.json').read_text())
    preds = [dict(id=p['ann_id'], img_id=p['image_id'], keypoints=np.array(p['keypoints']), keypoint_scores=np.array(p['keypoint_scores']),
                  bbox_score=p['bbox_score'], area=np.prod(p['bbox_scale'])) for p in stored['predictions']]
    return preds, stored['results']

@pytest.mark.parametrize('name, ann, meta', [('coco', 'coco/test_coco_wholebody.json', 'coco'), ('animalpose', 'animalpose/test_animalpose.json', 'animalpose')])
def test_coco_metric_reproduces_mmpose_reference(name, ann, meta):
    preds, expected = reference_predictions(name)
    metric = CocoMetric(data_file('samples', ann), data_file('metainfo', f'{meta}.json'))
    assert_same_metrics(metric.evaluate(preds), expected, 'coco/')
    assert_same_metrics(metric.evaluate(preds[::-1]), expected, 'coco/')   # order of arrival does not matter

@pytest.fixture(scope='module')
def wholebody():
    "test_coco_wholebody.json plus an image without annotations (id 1), as the fixture script made it."
    data = json.loads(data_file('samples/coco/test_coco_wholebody.json').read_text())
    data['images'].append(dict(id=1, file_name='none.jpg', width=640, height=480))
    return data

def coco_predictions(bboxes=False):
    "The fixture's COCO predictions: noisy people, a near duplicate, a repeated id, one on the image without annotations, one scored 0."
    n = len(FIX['coco_ids'])
    return [dict(id=int(FIX['coco_ids'][i]), img_id=int(FIX['coco_img_ids'][i]), keypoints=FIX['coco_kps'][i], keypoint_scores=FIX['coco_scores'][i],
                 bbox_score=FIX['coco_bbox_scores'][i], area=FIX['coco_areas'][i], **(dict(bbox=FIX['coco_bboxes'][i]) if bboxes else {})) for i in range(n)]

@pytest.mark.parametrize('case', COCO_CASES)
def test_coco_metric_options_match_mmpose(wholebody, case):
    metric = CocoMetric(wholebody, 'coco', **COCO_CASES[case])
    assert_same_metrics(metric.evaluate(coco_predictions(case == 'bboxes')), MMPOSE[f'coco_{case}'], 'coco/')

def test_coco_metric_batches_of_tensors(wholebody):
    "A fastai-style batch: predictions as tensors, ids, scores and box scales (area = their product) from the targets."
    metric, preds = CocoMetric(wholebody, 'coco'), coco_predictions()
    for rows in (slice(0, 7), slice(7, None)):
        p = preds[rows]
        metric.process(dict(keypoints=torch.from_numpy(np.stack([x['keypoints'] for x in p])), keypoint_scores=torch.from_numpy(np.stack([x['keypoint_scores'] for x in p]))),
                       dict(id=torch.tensor([x['id'] for x in p]), img_id=torch.tensor([x['img_id'] for x in p]),
                            bbox_score=np.array([x['bbox_score'] for x in p]), bbox_scale=np.stack([[x['area'], 1.] for x in p])))
    assert_same_metrics(metric.evaluate(), MMPOSE['coco_default'], 'coco/')

def test_coco_wholebody_matches_mmpose(wholebody, tmp_path):
    preds = [dict(id=int(i), img_id=int(j), keypoints=k, keypoint_scores=s, bbox_score=b, area=a) for i, j, k, s, b, a in
             zip(FIX['wb_ids'], FIX['wb_img_ids'], FIX['wb_kps'], FIX['wb_scores'], FIX['wb_bbox_scores'], FIX['wb_areas'])]
    metric = CocoWholeBodyMetric(wholebody, 'coco_wholebody', outfile_prefix=tmp_path / 'wb')
    assert_same_metrics(metric.evaluate(preds), MMPOSE['wholebody'], 'coco-wholebody/')
    written = json.loads((tmp_path / 'wb.keypoints.json').read_text())
    assert len(written) == len(preds) and {len(r['face_kpts']) for r in written} == {68 * 3} and 'keypoints' in written[0]

PARTITIONS = dict(body=range(17), foot=range(17, 23), face=range(23, 91), hands=range(91, 133), all=range(133))

def test_keypoint_partition_metric_matches_mmpose():
    ann_file = data_file('samples/coco/test_keypoint_partition_metric.json')
    metric = KeypointPartitionMetric(dict(type='CocoMetric', ann_file=ann_file, metainfo='coco_wholebody', score_mode='bbox', nms_mode='none'), PARTITIONS)
    metric.process(dict(keypoints=FIX['wb_kps'], keypoint_scores=FIX['wb_scores']),
                   dict(id=FIX['wb_ids'], img_id=FIX['wb_img_ids'], bbox_score=FIX['wb_bbox_scores'], area=FIX['wb_areas']))
    assert_same_metrics(metric.evaluate(), {k.replace('/coco/', '/'): v for k, v in MMPOSE['partition_coco'].items()})
    anns = json.loads(ann_file.read_text())['annotations']
    gt = np.stack([np.array(a['keypoints'], np.float32).reshape(-1, 3) for a in anns])
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)], np.float32)
    metric = KeypointPartitionMetric(dict(type='PCKAccuracy', thr=0.05), PARTITIONS)
    metric.process(dict(keypoints=FIX['wb_kps']), dict(keypoints=gt[..., :2], keypoints_visible=gt[..., 2] > 0, bboxes=boxes))
    assert_same_metrics(metric.evaluate(), MMPOSE['partition_pck'])

# ---------------------------------------------------------------- edge cases and bad input

def test_no_labelled_keypoints():
    pred, gt, mask = np.zeros((2, 3, 2)), np.ones((2, 3, 2)), np.zeros((2, 3), bool)
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.1, np.ones((2, 2)))
    assert acc.tolist() == [-1] * 3 and avg == 0 and cnt == 0
    acc, avg, cnt = keypoint_pck_accuracy(torch.zeros(2, 3, 2), torch.ones(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool), 0.1, torch.ones(2, 2))
    assert acc.tolist() == [-1] * 3 and float(avg) == 0 and int(cnt) == 0
    assert keypoint_nme(pred, gt, mask, np.ones((2, 2))) == 0 and keypoint_epe(pred, gt, mask) == 0 and keypoint_auc(pred, gt, mask, 30) == 0
    with pytest.raises(PoseaiError, match='labelled'): keypoint_mpjpe(np.zeros((2, 3, 3)), np.ones((2, 3, 3)), mask)
    acc, _, cnt = keypoint_pck_accuracy(pred, gt, np.ones((2, 3), bool), 0.1, np.array([[0., 1], [1, 1]]))   # a zero size leaves its instance out
    assert acc.tolist() == [0, 0, 0] and cnt == 3 and pose_pck_accuracy(np.zeros((1, 0, 4, 4)), np.zeros((1, 0, 4, 4)), np.zeros((1, 0))) == (None, 0, 0)

def test_coco_empty_predictions_and_unknown_images(wholebody):
    stats = CocoMetric(wholebody, 'coco').evaluate([])
    assert set(stats.values()) == {0.0}                                 # every figure 0: people are labelled, nobody found
    animals = json.loads(data_file('samples/animalpose/test_animalpose.json').read_text())
    stats = CocoMetric(animals, 'animalpose').evaluate([])
    assert stats['AP'] == 0 and stats['AP (M)'] == -1                    # no medium animal is labelled
    pred = coco_predictions()[0]
    with pytest.raises(PoseaiError, match='images'): CocoMetric(wholebody, 'coco').evaluate([dict(pred, img_id=424242)])
    with pytest.raises(PoseaiError, match='17'): CocoMetric(wholebody, 'coco').evaluate([dict(pred, keypoints=pred['keypoints'][:5], keypoint_scores=pred['keypoint_scores'][:5])])

def test_predictions_on_images_without_people_are_false_positives(wholebody):
    preds = coco_predictions()
    on_empty = [p for p in preds if p['img_id'] == 1]
    assert on_empty
    with_fp = CocoMetric(wholebody, 'coco', score_mode='bbox').evaluate([dict(p, bbox_score=2.) if p['img_id'] == 1 else p for p in preds])
    without = CocoMetric(wholebody, 'coco', score_mode='bbox').evaluate([p for p in preds if p['img_id'] != 1])
    assert with_fp['AP'] < without['AP'] and with_fp['AR'] == without['AR']

def test_metainfo_without_sigmas():
    meta = make_metainfo('no_sigmas', [f'k{i}' for i in range(16)])
    with pytest.raises(PoseaiError, match='no sigmas'): CocoMetric(dict(images=[], annotations=[], categories=[]), meta)
    pck = PCKAccuracy(thr=0.2)
    for batch in keypoint_batches(True): pck.process(*batch)
    assert abs(pck.evaluate()['PCK'] - MMPOSE['pck']['PCK']) < 1e-6

def test_results_file_and_format_only(wholebody, tmp_path):
    metric = CocoMetric(None, 'coco', format_only=True, outfile_prefix=tmp_path / 'sub' / 'res')
    assert metric.evaluate(coco_predictions()) == {}
    written = json.loads((tmp_path / 'sub/res.keypoints.json').read_text())
    assert written == CocoMetric(wholebody, 'coco').results2json(coco_instances(coco_predictions()))
    assert len(written) == len(coco_predictions()) - 3                  # the repeated id, the near duplicate and the zero-scored copy are gone
    assert set(written[0]) == {'image_id', 'category_id', 'keypoints', 'score'} and len(written[0]['keypoints']) == 51

@pytest.mark.parametrize('build, message', [
    (lambda: PCKAccuracy(norm_item='box'), 'norm_item'), (lambda: NME('distance'), 'norm_mode'), (lambda: NME('use_norm_item'), 'norm_item'),
    (lambda: NME('keypoint_distance'), 'keypoint_indices'), (lambda: MPJPE('pa-mpjpe'), 'mode'),
    (lambda: CocoMetric(None, 'coco'), 'ground truth'), (lambda: CocoMetric(None, 'coco', format_only=True), 'outfile_prefix'),
    (lambda: CocoMetric(None, 'coco', iou_type='keypoints_crowd', format_only=True, outfile_prefix='x'), 'keypoints_crowd'),
    (lambda: CocoMetric(None, 'coco', score_mode='mean', format_only=True, outfile_prefix='x'), 'score_mode'),
    (lambda: CocoMetric(None, 'coco', nms_mode='nms', format_only=True, outfile_prefix='x'), 'nms_mode'),
    (lambda: KeypointPartitionMetric(dict(type='MpiiPCKAccuracy'), dict(a=[0])), 'type'),
    (lambda: KeypointPartitionMetric(dict(type='NME', norm_mode='keypoint_distance'), dict(a=[0])), 'use_norm_item'),
    (lambda: KeypointPartitionMetric(dict(type='EPE'), dict(a=[])), 'partitions'),
    (lambda: keypoint_mpjpe(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.ones((1, 2), bool), 'rigid'), 'alignment')])
def test_bad_arguments_are_refused_clearly(build, message):
    with pytest.raises(PoseaiError, match=message): build()

def test_dataset_tables_need_their_keypoints():
    for metric, k in ((MpiiPCKAccuracy(), 17), (JhmdbPCKAccuracy(), 14)):
        metric.process(dict(keypoints=np.zeros((1, k, 2))), dict(keypoints=np.zeros((1, k, 2)), keypoints_visible=np.ones((1, k)), bboxes=np.ones((1, 4)), head_size=np.ones(1)))
        with pytest.raises(PoseaiError, match='keypoints'): metric.evaluate()

def test_bad_batches_are_refused_clearly():
    metric = PCKAccuracy()
    with pytest.raises(PoseaiError, match='bboxes'): metric.process(dict(keypoints=np.zeros((2, 3, 2))), dict(keypoints=np.zeros((2, 3, 2)), keypoints_visible=np.ones((2, 3))))
    with pytest.raises(PoseaiError, match='shape'): metric.process(dict(keypoints=np.zeros((2, 4, 2))), dict(keypoints=np.zeros((2, 3, 2)), keypoints_visible=np.ones((2, 3))))
    with pytest.raises(PoseaiError, match='keypoint_scores'): coco_instances([dict(img_id=1, keypoints=np.zeros((17, 2)))])
    with pytest.raises(PoseaiError, match='2 predictions but 1'): coco_instances(dict(keypoints=np.zeros((2, 17, 2)), keypoint_scores=np.ones((2, 17))), [dict(id=1)])

def test_pck_report_draws_per_keypoint_bars_and_a_curve(ref):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig = pck_report(ref['pred'], ref['gt'], ref['mask'], ref['norm'], thr=0.05)
    bars, curve = fig.axes
    np.testing.assert_allclose([p.get_height() for p in bars.patches], np.maximum(ref['pck_acc'], 0), atol=1e-12)
    x, y = curve.lines[0].get_data()
    assert len(x) == 51 and y[0] == 0 and np.all(np.diff(y) >= 0)
    plt.close(fig)
