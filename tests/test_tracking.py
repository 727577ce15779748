"Tracking: greedy IoU and OKS matching on constructed cases, MMPose's track ids, dropped people, the One-Euro filter, colours by track."
from pathlib import Path
import numpy as np, pytest
from poseai.tracking import *

def person(box, kpts=None, scores=None):
    "A result with box x1, y1, x2, y2 and keypoints (by default 17 spread over the box)."
    box = np.asarray(box, np.float32)
    if kpts is None: kpts = box[:2] + np.linspace(0.1, 0.9, 17)[:, None] * (box[2:] - box[:2])
    return dict(bbox=box, keypoints=np.asarray(kpts, np.float32), keypoint_scores=np.ones(len(kpts), np.float32) if scores is None else scores)

def ids(results): return [r['track_id'] for r in results]

def test_iou_matching_follows_boxes_not_list_order():
    frame0, next_id = get_track_id([person([0, 0, 10, 20]), person([50, 0, 60, 20]), person([100, 0, 110, 20])], None, 0)
    assert ids(frame0) == [0, 1, 2] and next_id == 3
    frame1, next_id = get_track_id([person([101, 1, 111, 21]), person([300, 0, 310, 20]), person([2, 0, 12, 20])], frame0, next_id)
    assert ids(frame1) == [2, 3, 0] and next_id == 4

def test_iou_must_beat_the_threshold():
    last = [dict(person([0, 0, 10, 10]), track_id=5)]
    assert bbox_iou([0, 0, 10, 10], [0, 0, 10, 5]) == pytest.approx(0.5)
    assert ids(get_track_id([person([0, 0, 10, 5])], last, 6, tracking_thr=0.5)[0]) == [6]
    assert ids(get_track_id([person([0, 0, 10, 5])], last, 6, tracking_thr=0.49)[0]) == [5]

def test_each_previous_person_is_matched_once():
    last = [dict(person([0, 0, 10, 10]), track_id=0)]
    tracked, next_id = get_track_id([person([0, 0, 10, 10]), person([1, 0, 11, 10])], last, 1)
    assert ids(tracked) == [0, 1] and next_id == 2 and len(last) == 1   # the caller's list is left as it was

def test_oks_tells_apart_people_whose_boxes_coincide():
    "Two people in the same box (one in front of the other): IoU takes the first; OKS follows the keypoints."
    box = [0, 0, 100, 200]
    a = np.stack([np.linspace(10, 90, 17), np.linspace(10, 190, 17)], -1)
    b = np.stack([np.linspace(90, 10, 17), np.linspace(190, 10, 17)], -1)
    last = [dict(person(box, a), track_id=0), dict(person(box, b), track_id=1)]
    last = [dict(r, area=100 * 200.) for r in last]
    moved_b = person(box, b + 2)
    assert ids(get_track_id([moved_b], last, 2)[0]) == [0]
    assert ids(get_track_id([moved_b], last, 2, use_oks=True)[0]) == [1]
    far = person(box, a + 60)
    assert ids(get_track_id([far], last, 2, use_oks=True)[0]) == [2]

def test_oks_without_boxes_uses_the_keypoints_box():
    kpts = np.array([[0, 0], [10, 20], [30, 40], [20, 10]], np.float32)   # (0, 0): unlabelled, left out of the box
    r = with_area(dict(keypoints=kpts))
    np.testing.assert_array_equal(r['bbox'], [10, 10, 30, 40]); assert r['area'] == 600

def test_ids_match_mmpose():
    "Track ids of MMPose 1.3.2's matching functions (tests/data/make_mmpose_tracking.py) on random people over 8 frames."
    mm = np.load(Path(__file__).parent / 'data' / 'mmpose_tracking.npz')
    for kind in ('iou', 'oks'):
        last, next_id = [], 0
        for f in range(8):
            frame = [dict(bbox=b, keypoints=k, keypoint_scores=s) for b, k, s in zip(mm[f'boxes{f}'], mm[f'keypoints{f}'], mm[f'scores{f}'])]
            last, next_id = get_track_id(frame, last, next_id, use_oks=kind == 'oks')
            assert ids(last) == mm[f'{kind}_ids{f}'].tolist(), (kind, f)
    assert sum(len(set(mm[f'iou_ids{f}']) & set(mm[f'iou_ids{f - 1}'])) for f in range(1, 8)) > 20   # most people keep their track

def test_people_with_too_few_keypoints_are_dropped_as_mmpose_does():
    few = person([0, 0, 10, 10], np.array([[1, 2], [3, 4]] + [[0, 0]] * 15))
    (dropped,), next_id = get_track_id([few], [], 7)
    assert dropped['track_id'] == -1 and next_id == 7
    assert (dropped['keypoints'][:, 1] == -10).all() and not dropped['bbox'].any()
    assert few['keypoints'][0, 1] == 2 and few['bbox'][2] == 10                 # the input is left as it was
    assert ids(get_track_id([few], [], 7, min_keypoints=2)[0]) == [7]

def test_one_euro_reduces_jitter_on_a_noisy_constant_signal():
    rng = np.random.default_rng(0)
    signal = 100 + rng.normal(0, 3, (200, 17, 2))
    f = OneEuroFilter(signal[0], fps=30)
    smooth = np.stack([f(x) for x in signal[1:]])
    jitter = lambda s: np.abs(np.diff(s[20:], axis=0)).mean()
    assert jitter(smooth) < 0.5 * jitter(signal[1:])
    assert abs(smooth[20:].mean() - 100) < 0.2 and np.abs(smooth[20:] - 100).mean() < 0.6 * np.abs(signal[21:] - 100).mean()

def test_one_euro_step_by_its_formula():
    "One step at 30 fps, `t_e` = 1 frame, from 10 to 12: derivative smoothed at d_cutoff = fps, then the value at 1.7 + 0.3 |dx|."
    f = OneEuroFilter(np.array([[10., 10.]]), fps=30)
    alpha = lambda cutoff: 2 * np.pi * cutoff / 30 / (2 * np.pi * cutoff / 30 + 1)
    dx = alpha(30.) * 2
    expected = alpha(1.7 + 0.3 * dx) * 12 + (1 - alpha(1.7 + 0.3 * dx)) * 10
    np.testing.assert_allclose(f(np.array([[12., 0.]])), [[expected, -10.]])
    with pytest.raises(ValueError): f(np.zeros((3, 2)))

def test_get_track_id_smooths_each_track():
    rng = np.random.default_rng(0)
    base = person([0, 0, 100, 200])
    last, next_id, seen = [], 0, []
    for _ in range(30):
        frame = [dict(base, keypoints=base['keypoints'] + rng.normal(0, 3, (17, 2)).astype(np.float32))]
        last, next_id = get_track_id(frame, last, next_id, use_one_euro=True, fps=30)
        seen.append(last[0]['keypoints'])
    assert next_id == 1 and isinstance(last[0]['one_euro'], OneEuroFilter)
    assert np.abs(np.diff(np.stack(seen)[5:], axis=0)).mean() < 0.5 * 3 * 2 / np.sqrt(np.pi)   # raw steps: mean |N(0, 3 sqrt 2)|

def test_tracks_are_drawn_in_their_palette_colour():
    img = np.zeros((220, 120, 3), np.uint8)
    a, b = dict(person([10, 10, 50, 200]), track_id=3), dict(person([60, 10, 110, 200]), track_id=-1)
    drawn = vis_pose_tracking_result(img, [a, b], 'coco')
    for r in (a, b):
        x, y = np.round(r['keypoints'][0]).astype(int)
        np.testing.assert_array_equal(drawn[y, x], track_color(r['track_id']))
    np.testing.assert_array_equal(track_color(-1), [255, 255, 255]); assert not img.any()
