"Visualisation: keypoints and links in the meta information's colours, thresholds, boxes, files, heatmap overlays, figures."
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import cv2, numpy as np, pytest, torch
from test_estimators import reference
from poseai.core import PoseaiError
from poseai.metainfo import parse_pose_metainfo
from poseai.visualization import *

META = parse_pose_metainfo('coco')

def person(scores=None):
    "A COCO person whose 17 keypoints sit 30 px apart on a 200x200 black image's grid, far from each other."
    grid = np.stack(np.meshgrid(np.arange(5), np.arange(4)), -1).reshape(-1, 2)[:17] * 40 + 20
    return dict(keypoints=grid.astype(np.float32), keypoint_scores=np.ones(17, np.float32) if scores is None else scores, bbox=np.array([5, 5, 190, 170]))

def test_keypoints_in_their_meta_colours_above_the_threshold_only():
    "Nose, left wrist and right ankle confident (no link joins two of them): three dots in their colours and nothing else."
    img = np.zeros((200, 200, 3), np.uint8)
    confident = [0, 9, 16]
    p = person(np.where(np.isin(np.arange(17), confident), 0.9, 0.29).astype(np.float32))
    drawn = vis_pose_result(img, [p], 'coco', kpt_thr=0.3, radius=4, show_bbox=False)
    assert drawn.dtype == np.uint8 and drawn.shape == img.shape and not img.any()
    for k, (x, y) in enumerate(p['keypoints'].astype(int)):
        if k in confident: np.testing.assert_array_equal(drawn[y, x], META.keypoint_colors[k])
        else: assert not drawn[y - 5:y + 6, x - 5:x + 6].any()
    ys, xs = np.nonzero(drawn.any(-1))
    near = np.linalg.norm(np.stack([xs, ys], -1)[:, None] - p['keypoints'][confident], axis=-1).min(1)
    assert near.max() < 6                                   # nothing but the three antialiased discs of radius 4

def test_links_join_confident_keypoints_in_their_colours():
    a, b = META.skeleton_links[7]                      # left shoulder - right shoulder
    p = person(np.where(np.isin(np.arange(17), [a, b]), 1., 0.).astype(np.float32))
    (xa, ya), (xb, yb) = p['keypoints'][a], p['keypoints'][b]
    mid = int(round((ya + yb) / 2)), int(round((xa + xb) / 2))
    drawn = vis_pose_result(np.zeros((200, 200, 3), np.uint8), [p], META, thickness=3, show_bbox=False)
    np.testing.assert_array_equal(drawn[mid], META.skeleton_link_colors[7])
    p['keypoint_scores'][b] = 0
    assert not vis_pose_result(np.zeros((200, 200, 3), np.uint8), [p], META, thickness=3, show_bbox=False)[mid].any()

def test_boxes_labels_and_files(tmp_path):
    img = np.zeros((200, 200, 3), np.uint8)
    p = person(np.zeros(17, np.float32))
    boxed = vis_pose_result(img, [p], META, bbox_color=(0, 0, 255))
    np.testing.assert_array_equal(boxed[100, 5], [0, 0, 255])
    assert not vis_pose_result(img, [p], META, show_bbox=False).any()
    label = dict(keypoints=p['keypoints'][None], keypoints_visible=np.ones((1, 17)))     # a dataset record's shapes
    np.testing.assert_array_equal(vis_pose_result(img, [label], META), vis_pose_result(img, [person()], META, show_bbox=False))
    rgb = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), rgb[..., ::-1])
    np.testing.assert_array_equal(vis_pose_result(tmp_path / 'a.png', [], META), rgb)
    with pytest.raises(PoseaiError, match='missing.png'): vis_pose_result(tmp_path / 'missing.png', [], META)

def test_heatmap_overlay_is_hot_at_the_peak():
    maps = np.zeros((2, 64, 48), np.float32)
    maps[1, 10, 40] = 1
    over = heatmap_overlay(np.zeros((256, 192, 3), np.uint8), torch.from_numpy(maps), alpha=1.)
    assert over.shape == (256, 192, 3) and over.dtype == np.uint8
    assert over[41, 161, 0] > 100 and over[41, 161, 2] < 100 and over[200, 20, 2] > 100 and over[200, 20, 0] < 50
    with pytest.raises(PoseaiError, match=r'\(K, h, w\)'): heatmap_overlay(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8)))

def test_crop_heatmaps_and_figures():
    est = reference('td-hm_res18-tiny')[0]
    crop = np.random.default_rng(0).integers(0, 255, (256, 192, 3), dtype=np.uint8)
    maps = crop_heatmaps(est, crop)
    with torch.no_grad(): direct = est((torch.from_numpy(crop).permute(2, 0, 1)[None].float() - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1))
    torch.testing.assert_close(maps, direct[0], atol=1e-5, rtol=0)
    fig = show_heatmaps(crop, maps[:5], ['a', 'b', 'c', 'd', 'e'], ncols=3)
    assert sum(bool(ax.images) for ax in fig.axes) == 6 and fig.axes[1].get_title() == 'a'
    plt.close(fig)
    fig = show_gt_vs_pred(crop, [person()], [person()], META)
    assert [ax.get_title() for ax in fig.axes] == ['ground truth', 'prediction']
    plt.close(fig)
    with pytest.raises(PoseaiError, match='no heatmaps'): crop_heatmaps(reference('simcc_res18-mini')[0], crop)
