"Dataset loaders: every sample in tests/data/samples (or ../shared/data) loads with the counts, shapes and ids its file says; bad input gives clear errors."
import csv, json
import numpy as np, pytest, scipy.io
from conftest import data_file
from poseai.core import PoseaiError
from poseai.metainfo import parse_pose_metainfo
from poseai.datasets import *

pytestmark = pytest.mark.filterwarnings('ignore:.*skipped:UserWarning')

# (class, sample folder, annotation file, keyword arguments, how its box is made): 'clip' (COCO box clipped to the image),
# 'free' (centre/scale or an unclipped box), 'whole' (MMPose's fixed whole-crop box)
COCO_STYLE = [
    (CocoDataset, 'coco', 'test_coco.json', {}, 'clip'),
    (CocoWholeBodyDataset, 'coco', 'test_coco_wholebody.json', {}, 'clip'),
    (HalpeDataset, 'halpe', 'test_halpe.json', dict(data_prefix='../coco'), 'clip'),
    (AicDataset, 'aic', 'test_aic.json', {}, 'clip'),
    (MhpDataset, 'mhp', 'test_mhp.json', {}, 'clip'),
    (PoseTrack18Dataset, 'posetrack18', 'annotations/test_posetrack18_val.json', {}, 'clip'),
    (PoseTrack18Dataset, 'posetrack18', 'annotations/val/012834_mpii_test.json', {}, 'clip'),
    (JhmdbDataset, 'jhmdb', 'test_jhmdb_sub1.json', {}, 'clip'),
    (OneHand10KDataset, 'onehand10k', 'test_onehand10k.json', {}, 'clip'),
    (FreiHandDataset, 'freihand', 'test_freihand.json', {}, 'whole'),
    (PanopticHand2DDataset, 'panoptic', 'test_panoptic.json', {}, 'clip'),
    (Rhd2DDataset, 'rhd', 'test_rhd.json', {}, 'clip'),
    (InterHand2DDoubleDataset, 'interhand2.6m', 'test_interhand2.6m_data.json',
     dict(camera_param_file='test_interhand2.6m_camera.json', joint_file='test_interhand2.6m_joint_3d.json'), 'free'),
    (WFLWDataset, 'wflw', 'test_wflw.json', {}, 'free'),
    (Face300WDataset, '300w', 'test_300w.json', {}, 'free'),
    (Face300WLPDataset, '300wlp', 'test_300wlp.json', {}, 'clip'),
    (Face300VWDataset, '300vw', 'anno_300vw.json', {}, 'free'),
    (COFWDataset, 'cofw', 'test_cofw.json', {}, 'clip'),
    (AFLWDataset, 'aflw', 'test_aflw.json', {}, 'free'),
    (LapaDataset, 'lapa', 'test_lapa.json', {}, 'clip'),
    (AnimalPoseDataset, 'animalpose', 'test_animalpose.json', {}, 'clip'),
    (AnimalKingdomDataset, 'ak', 'test_animalkingdom.json', {}, 'clip'),
    (ATRWDataset, 'atrw', 'test_atrw.json', {}, 'clip'),
    (Horse10Dataset, 'horse10', 'test_horse10.json', {}, 'clip'),
    (FlyDataset, 'fly', 'test_fly.json', {}, 'clip'),
    (LocustDataset, 'locust', 'test_locust.json', {}, 'whole'),
    (ZebraDataset, 'zebra', 'test_zebra.json', {}, 'whole'),
    (DeepFashionDataset, 'fld', 'test_fld.json', dict(subset='full'), 'clip'),
    (DeepFashion2Dataset, 'deepfasion2', 'deepfasion2.json', {}, 'clip'),
    (ExlposeDataset, 'exlpose', 'test_exlpose.json', {}, 'clip'),
    (HumanArtDataset, 'humanart', 'test_humanart.json', {}, 'clip'),
    (HumanArt21Dataset, 'humanart', 'test_humanart.json', {}, 'clip'),
    (MpiiTrbDataset, 'mpii', 'test_mpii_trb.json', {}, 'free'),
]
CASES = [pytest.param(*case, id=f'{case[0].__name__}-{case[2].split("/")[-1]}') for case in COCO_STYLE]

def load(cls, folder, ann_file, kwargs, **more):
    "Dataset `cls` on the sample in `samples/folder`."
    root = data_file('samples', folder)
    return cls(ann_file, data_root=root, **kwargs, **more)

def raw(folder, ann_file):
    "The sample's annotation file, read directly."
    return json.loads(data_file('samples', folder, ann_file).read_text())

def flat_keypoints(cls, ann):
    "The annotation's x, y, v values as the dataset's keypoint fields list them."
    return np.concatenate([np.ravel(ann[f]) for f in cls.keypoint_fields]).astype(float)

def labelled(cls, ann):
    "Whether the annotation has a labelled keypoint (v > 0; InterHand: a valid joint)."
    return (flat_keypoints(cls, ann) > 0).any() if cls is InterHand2DDoubleDataset else (flat_keypoints(cls, ann)[2::3] > 0).any()

def expected_topdown_ids(cls, data):
    "Annotation ids a top-down dataset keeps: images in file order, then annotations; crowds and unlabelled instances out."
    by_image = {}
    for ann in data['annotations']: by_image.setdefault(ann['image_id'], []).append(ann)
    kept = [a['id'] for img in data['images'] for a in by_image.get(img['id'], []) if not a.get('iscrowd') and labelled(cls, a)]
    return sorted(kept) if cls.sort_by_id else kept

@pytest.mark.parametrize('cls,folder,ann_file,kwargs,box', CASES)
def test_sample_topdown(cls, folder, ann_file, kwargs, box):
    ds, data = load(cls, folder, ann_file, kwargs), raw(folder, ann_file)
    K = parse_pose_metainfo(cls.METAINFO or 'deepfashion_full').num_keypoints
    assert ds.metainfo.num_keypoints == K
    ids = expected_topdown_ids(cls, data)
    assert len(ds) == len(ids) > 0
    assert [ds[i]['id'] for i in range(len(ds))] == ids
    assert len(ds) + sum(ds.skipped.values()) == len(data['annotations'])
    images, anns = {img['id']: img for img in data['images']}, {a['id']: a for a in data['annotations']}
    for i in range(len(ds)):
        rec = ds[i]
        assert rec['keypoints'].shape == (1, K, 2) and rec['keypoints_visible'].shape == (1, K)
        assert rec['bbox'].shape == (1, 4) and rec['bbox'].dtype == np.float32
        ann, img = anns[rec['id']], images[rec['img_id']]
        assert rec['img_id'] == ann['image_id'] and rec['img_path'].endswith(img['file_name'])
        x1, y1, x2, y2 = rec['bbox'][0]
        assert x1 < x2 and y1 < y2
        if box == 'clip': assert 0 <= x1 and 0 <= y1 and x2 <= img['width'] - 1 and y2 <= img['height'] - 1
        if box == 'whole': assert (x1, y1) == (0, 0) and (x2, y2) == (img['width'], img['height'])
        if cls is not InterHand2DDoubleDataset:
            values = flat_keypoints(cls, ann).reshape(-1, 3)
            shift = 1 if cls is JhmdbDataset else 0
            np.testing.assert_allclose(rec['keypoints'][0], values[:, :2] - shift, rtol=1e-6)
            np.testing.assert_array_equal(rec['keypoints_visible'][0] > 0, values[:, 2] > 0)

@pytest.mark.parametrize('cls,folder,ann_file,kwargs,box', CASES)
def test_sample_bottomup(cls, folder, ann_file, kwargs, box):
    data = raw(folder, ann_file)
    with_instances = {a['image_id'] for a in data['annotations']}
    train = load(cls, folder, ann_file, kwargs, data_mode='bottomup')
    order = (list(dict.fromkeys(a['image_id'] for a in sorted(data['annotations'], key=lambda a: a['id']))) if cls.sort_by_id
             else [img['id'] for img in data['images'] if img['id'] in with_instances])
    assert [r['img_id'] for r in train.data_list] == order
    assert sum(len(r['id']) for r in train.data_list) == len(data['annotations'])
    K = train.metainfo.num_keypoints
    for i in range(len(train)):
        rec = train[i]
        assert rec['keypoints'].shape == (len(rec['id']), K, 2) and rec['bbox'].shape == (len(rec['id']), 4)
    test = load(cls, folder, ann_file, kwargs, data_mode='bottomup', test_mode=True)
    assert len(test) == len(data['images'])

def test_coco_bottomup_lists_invalid_instances():
    ds = load(CocoDataset, 'coco', 'test_coco.json', {}, data_mode='bottomup')
    data = raw('coco', 'test_coco.json')
    unlabelled = [a for a in data['annotations'] if a['num_keypoints'] == 0]
    assert sum(len(r['invalid_segs']) for r in ds.data_list) == len(unlabelled) > 0

def test_indices():
    full = load(CocoDataset, 'coco', 'test_coco.json', {})
    assert [r['id'] for r in load(CocoDataset, 'coco', 'test_coco.json', {}, indices=3).data_list] == [r['id'] for r in full.data_list[:3]]
    assert [r['id'] for r in load(CocoDataset, 'coco', 'test_coco.json', {}, indices=[4, 1]).data_list] == [full.data_list[i]['id'] for i in (4, 1)]

def test_records_are_copies_with_metainfo():
    ds = load(CocoDataset, 'coco', 'test_coco.json', {})
    rec = ds[0]
    rec['keypoints'][:] = -5
    assert ds[0]['keypoints'].max() > 0
    assert rec['flip_indices'] == ds.metainfo.flip_indices and rec['sample_idx'] == 0

@pytest.mark.parametrize('folder,ann_file,det_file', [('coco', 'test_coco.json', 'test_coco_det_AP_H_56.json'),
                                                     ('posetrack18', 'annotations/test_posetrack18_val.json', 'annotations/test_posetrack18_human_detections.json')])
def test_bbox_file(folder, ann_file, det_file):
    dets = raw(folder, det_file)
    kw = dict(bbox_file=data_file('samples', folder, det_file), test_mode=True)
    ds = load(CocoDataset, folder, ann_file, {}, **kw)
    people = [d for d in dets if d['category_id'] == 1]
    assert len(ds) == len(people)
    for i in (0, len(ds) - 1):
        rec, det = ds[i], people[i]
        x, y, w, h = det['bbox'][:4]
        np.testing.assert_allclose(rec['bbox'][0], [x, y, x + w, y + h], rtol=1e-6)
        assert rec['bbox_score'][0] == np.float32(det['score']) and rec['id'] == i and rec['img_id'] == det['image_id']
        assert not rec['keypoints'].any() and rec['keypoints'].shape == (1, 17, 2)
    thr = float(np.median([d['score'] for d in people]))
    confident = load(CocoDataset, folder, ann_file, {}, bbox_score_thr=thr, **kw)
    assert [r['bbox_score'][0] for r in confident.data_list] == [np.float32(d['score']) for d in people if d['score'] >= thr]
    assert confident.skipped == {'detection score below bbox_score_thr': sum(d['score'] < thr for d in people)}

def test_bbox_file_needs_topdown_testing():
    det = data_file('samples', 'coco', 'test_coco_det_AP_H_56.json')
    with pytest.raises(PoseaiError, match='test_mode=True'): load(CocoDataset, 'coco', 'test_coco.json', {}, bbox_file=det)
    with pytest.raises(PoseaiError, match="data_mode should be"): load(CocoDataset, 'coco', 'test_coco.json', {}, data_mode='sideways')

def test_mpii():
    data = raw('mpii', 'test_mpii.json')
    ds = MpiiDataset('test_mpii.json', data_root=data_file('samples', 'mpii'))
    assert len(ds) == len(data) and ds.metainfo.num_keypoints == 16
    for i, ann in enumerate(data):
        rec = ds[i]
        assert rec['keypoints'].shape == (1, 16, 2) and rec['id'] == i
        np.testing.assert_array_equal(rec['keypoints'][0], np.array(ann['joints'], np.float32))
        np.testing.assert_allclose(rec['bbox_scale'][0], [ann['scale'] * 200] * 2, rtol=1e-6)
        assert rec['img_id'] == int(ann['image'].split('.')[0])

def test_mpii_headbox(tmp_path):
    root, n = data_file('samples', 'mpii'), len(raw('mpii', 'test_mpii.json'))
    boxes = np.zeros((2, 2, n)); boxes[1] = [[30.] * n, [40.] * n]    # top-left (0, 0), bottom-right (30, 40): diagonal 50
    scipy.io.savemat(tmp_path/'headboxes.mat', dict(headboxes_src=boxes))
    ds = MpiiDataset('test_mpii.json', data_root=root, headbox_file=tmp_path/'headboxes.mat', test_mode=True)
    np.testing.assert_allclose(ds[0]['head_size'], [[30.]])
    with pytest.raises(PoseaiError, match='headbox_file'): MpiiDataset('test_mpii.json', data_root=root, headbox_file=tmp_path/'headboxes.mat')

def test_lsp():
    root = data_file('lsp')
    joints = scipy.io.loadmat(root/'joints.mat')['joints']
    train, test = LspDataset(root), LspDataset(root, split='test')
    assert (len(train), len(test)) == (1000, 1000) == (joints.shape[2] // 2, joints.shape[2] // 2)
    assert train.metainfo.num_keypoints == 14 and train.metainfo.flip_indices[:6] == [5, 4, 3, 2, 1, 0]
    for ds, n in ((train, 1), (test, 1001), (test, 2000)):
        rec = ds[n - (1 if n <= 1000 else 1001)]
        assert rec['id'] == n and rec['img_path'].endswith(f'im{n:04d}.jpg') and rec['keypoints'].shape == (1, 14, 2)
        np.testing.assert_array_equal(rec['keypoints'][0], joints[:2, :, n - 1].T.astype(np.float32))
        x1, y1, x2, y2 = rec['bbox'][0]
        kx, ky = rec['keypoints'][0].T
        assert x1 <= kx.min() and x2 >= kx.max() and y1 <= ky.min() and y2 >= ky.max()
    with pytest.raises(PoseaiError, match='split'): LspDataset(root, split='val')

def test_deeplabcut():
    root = data_file('dlc-openfield')
    with open(root/'labeled-data/m4s1/CollectedData_Pranav.csv', newline='') as f: rows = list(csv.reader(f))
    ds = DeepLabCutDataset(root)
    assert len(ds) == len(rows) - 3 == 116
    assert ds.metainfo.num_keypoints == 4 and list(ds.metainfo.keypoint_name2id) == ['snout', 'leftear', 'rightear', 'tailbase']
    assert ds.metainfo.flip_indices == [0, 2, 1, 3]
    for i in (0, 115):
        rec = ds[i]
        assert rec['img_path'].endswith(rows[3 + i][0]) and rec['keypoints'].shape == (1, 4, 2)
        np.testing.assert_allclose(rec['keypoints'][0].ravel(), [float(v) for v in rows[3 + i][1:]], rtol=1e-6)
        assert rec['keypoints_visible'].all()

@pytest.mark.parametrize('cls,meta', [(CrowdPoseDataset, 'crowdpose'), (OCHumanDataset, 'ochuman'), (AP10KDataset, 'ap10k'),
                                      (MacaqueDataset, 'macaque'), (CocoDataset, 'coco')])
def test_coco_style_without_sample(tmp_path, cls, meta):
    "Datasets with no sample in tests/data/samples load a COCO-style file made for their keypoint count."
    K = parse_pose_metainfo(meta).num_keypoints
    anns = [dict(id=10 + i, image_id=1, bbox=[10, 10, 50, 80], keypoints=[20, 30, 2] * K, num_keypoints=K) for i in range(3)]
    path = coco_file(tmp_path, anns, images=[dict(id=1, file_name='a.jpg', width=100, height=100, crowdIndex=0.3)])
    ds = cls(path)
    assert [ds[i]['id'] for i in range(len(ds))] == [10, 11, 12] and ds[0]['keypoints'].shape == (1, K, 2)
    assert ds[0]['crowd_index'] == 0.3

@pytest.mark.parametrize('subset,k', [('full', 8), ('upper', 6), ('lower', 4)])
def test_deepfashion_subsets(tmp_path, subset, k):
    anns = [dict(id=1, image_id=1, bbox=[10, 10, 50, 80], keypoints=[20, 30, 2] * k)]
    assert DeepFashionDataset(coco_file(tmp_path, anns), subset=subset)[0]['keypoints'].shape == (1, k, 2)
    with pytest.raises(PoseaiError, match='subset'): DeepFashionDataset(coco_file(tmp_path, anns), subset='middle')

def test_custom_dataset(tmp_path):
    from poseai.metainfo import make_metainfo
    meta = make_metainfo('pen', ['tip', 'end'], skeleton=[('tip', 'end')])
    ds = BaseCocoStyleDataset(coco_file(tmp_path, [dict(id=1, image_id=1, bbox=[1, 2, 30, 40], keypoints=[5, 6, 2, 25, 30, 1])]), metainfo=meta)
    assert len(ds) == 1 and ds.metainfo.num_keypoints == 2
    np.testing.assert_array_equal(ds[0]['keypoints_visible'], [[1, 1]])
    with pytest.raises(PoseaiError, match='needs metainfo'): BaseCocoStyleDataset(tmp_path/'bad.json')

# Bad input: each a PoseaiError naming the file and the annotation, or a counted skip

def coco_file(tmp_path, anns, images=None, name='bad.json', **top):
    "A small COCO-style file with `anns` on one 640x480 image (unless `images` are given)."
    images = [dict(id=1, file_name='a.jpg', width=640, height=480)] if images is None else images
    (tmp_path/name).write_text(json.dumps(dict(images=images, annotations=anns, **top)))
    return tmp_path/name

GOOD = dict(id=7, image_id=1, bbox=[10, 20, 30, 40], keypoints=[15, 25, 2] * 17, num_keypoints=17)
BAD_ANNOTATIONS = [
    (dict(keypoints=[15, 25, 2] * 14), r'annotation 7: keypoints \(x, y, v\) has 14 keypoints \(42 values\), the meta information has 17'),
    (dict(bbox=[10, 20, -30, 40]), 'annotation 7: bbox has a negative width or height'),
    (dict(bbox=[10, 20, 30, 40, 50, 60]), None),   # a 5th+ value (a score) is ignored, as in MMPose
    (dict(bbox=[10, 20, 30]), 'annotation 7: bbox has 3 values, expected 4'),
    (dict(bbox=[10, 20, float('nan'), 40]), 'annotation 7: bbox has a NaN'),
    (dict(keypoints=[15, 25, 2] * 16 + [float('nan'), 25, 2]), 'annotation 7: keypoints .* NaN'),
    (dict(keypoints=[15, 25, 2] * 16 + ['x', 25, 2]), 'annotation 7: keypoints .* not numbers'),
    (dict(keypoints=None), 'annotation 7: keypoints'),
    (dict(bbox='wide'), 'annotation 7: bbox'),
    (dict(keypoints=[[15, 25, 2]] * 17), None),   # nested triples are fine too
]

@pytest.mark.parametrize('change,message', BAD_ANNOTATIONS)
def test_bad_annotation(tmp_path, change, message):
    path = coco_file(tmp_path, [GOOD | change])
    if message is None: assert len(CocoDataset(path)) == 1; return
    with pytest.raises(PoseaiError, match=message) as e: CocoDataset(path)
    assert str(path) in str(e.value)

@pytest.mark.parametrize('drop,message', [('image_id', "annotation 7: has no 'image_id' field"), ('id', "annotation #0 \\(no 'id'\\): has no 'id' field")])
def test_annotation_missing_field(tmp_path, drop, message):
    with pytest.raises(PoseaiError, match=message): CocoDataset(coco_file(tmp_path, [{k: v for k, v in GOOD.items() if k != drop}]))

def test_file_missing_fields(tmp_path):
    (tmp_path/'x.json').write_text(json.dumps(dict(images=[])))
    with pytest.raises(PoseaiError, match="has no 'annotations' field"): CocoDataset(tmp_path/'x.json')
    (tmp_path/'x.json').write_text(json.dumps([1, 2]))
    with pytest.raises(PoseaiError, match="not a COCO-style file"): CocoDataset(tmp_path/'x.json')
    with pytest.raises(PoseaiError, match="image 1: has no 'width', 'height' field"):
        CocoDataset(coco_file(tmp_path, [GOOD], images=[dict(id=1, file_name='a.jpg')]))
    with pytest.raises(PoseaiError, match="image 1: the image id is used twice"):
        CocoDataset(coco_file(tmp_path, [GOOD], images=[dict(id=1, file_name='a.jpg', width=9, height=9)] * 2))
    (tmp_path/'x.json').write_text('{"images": [], "annotations": [')
    with pytest.raises(PoseaiError, match='is not valid JSON'): CocoDataset(tmp_path/'x.json')
    with pytest.raises(PoseaiError, match='file not found'): CocoDataset(tmp_path/'absent.json')

def test_skips_are_counted_and_reported(tmp_path):
    anns = [GOOD, GOOD | dict(id=8, iscrowd=1), GOOD | dict(id=9, num_keypoints=0), GOOD | dict(id=10, image_id=99),
            {k: v for k, v in GOOD.items() if k != 'keypoints'} | dict(id=11), GOOD | dict(id=12, bbox=[700, 10, 5, 5])]
    with pytest.warns(UserWarning, match='1 instance; skipped') as caught: ds = CocoDataset(coco_file(tmp_path, anns))
    assert len(caught) == 1 and len(ds) == 1
    assert ds.skipped == {'annotation of an image not in images': 1, 'no bbox or keypoints field': 1, 'crowd': 1,
                          'no labelled keypoints': 1, 'empty box': 1}
    with pytest.raises(PoseaiError, match=r'no instances to use \(skipped: 1 crowd\)'): CocoDataset(coco_file(tmp_path, [GOOD | dict(iscrowd=1)]))

def test_missing_image_is_counted_when_checked(tmp_path):
    (tmp_path/'a.jpg').write_bytes(b'')
    images = [dict(id=1, file_name='a.jpg', width=640, height=480), dict(id=2, file_name='gone.jpg', width=640, height=480)]
    path = coco_file(tmp_path, [GOOD, GOOD | dict(id=8, image_id=2)], images=images)
    assert len(CocoDataset(path, data_prefix=tmp_path)) == 2
    checked = CocoDataset(path, data_prefix=tmp_path, check_images=True)
    assert len(checked) == 1 and checked.skipped == {'image file missing': 1}

def test_bad_detections(tmp_path):
    path = coco_file(tmp_path, [GOOD])
    def dets(content):
        (tmp_path/'det.json').write_text(json.dumps(content))
        return CocoDataset(path, bbox_file=tmp_path/'det.json', test_mode=True)
    det = dict(image_id=1, bbox=[1, 2, 3, 4], score=0.9, category_id=1)
    assert len(dets([det, det | dict(category_id=2)])) == 1
    with pytest.raises(PoseaiError, match='expected a JSON list'): dets(dict(a=1))
    with pytest.raises(PoseaiError, match="detection #1: has no 'score' field"): dets([det, {k: v for k, v in det.items() if k != 'score'}])
    with pytest.raises(PoseaiError, match='detection #0: its image is not in .*bad.json: image_id 5'): dets([det | dict(image_id=5)])
    with pytest.raises(PoseaiError, match='detection #0: bbox has a NaN'): dets([det | dict(bbox=[1, 2, float('nan'), 4])])

def test_bad_mpii(tmp_path):
    ann = dict(image='000001.jpg', center=[100, 100], scale=1.0, joints=[[10, 10]] * 16, joints_vis=[1] * 16)
    (tmp_path/'mpii.json').write_text(json.dumps([ann, ann | dict(joints=[[10, 10]] * 14)]))
    with pytest.raises(PoseaiError, match=r'entry #1: joints \(x, y\) has 14 keypoints \(28 values\), the meta information has 16'): MpiiDataset(tmp_path/'mpii.json')
    (tmp_path/'mpii.json').write_text(json.dumps([{k: v for k, v in ann.items() if k != 'center'}]))
    with pytest.raises(PoseaiError, match="entry #0: has no 'center' field"): MpiiDataset(tmp_path/'mpii.json')
    (tmp_path/'mpii.json').write_text(json.dumps(dict(images=[])))
    with pytest.raises(PoseaiError, match="MPII format"): MpiiDataset(tmp_path/'mpii.json')

def test_bad_lsp(tmp_path):
    (tmp_path/'images').mkdir()
    scipy.io.savemat(tmp_path/'joints.mat', dict(joints=np.zeros((14, 3, 5))))
    with pytest.raises(PoseaiError, match='3 x 14 x N'): LspDataset(tmp_path)

def dlc_project(tmp_path, csv_text, config='Task: t\nbodyparts: [nose, leftear, rightear]\n'):
    "A one-frame DeepLabCut project with `csv_text` as its labels."
    import cv2
    (tmp_path/'labeled-data/v').mkdir(parents=True, exist_ok=True)
    (tmp_path/'config.yaml').write_text(config)
    cv2.imwrite(str(tmp_path/'labeled-data/v/img0.png'), np.zeros((48, 64, 3), np.uint8))
    (tmp_path/'labeled-data/v/CollectedData_me.csv').write_text(csv_text)
    return tmp_path

HEADER = 'scorer,me,me,me,me,me,me\nbodyparts,nose,nose,leftear,leftear,rightear,rightear\ncoords,x,y,x,y,x,y\n'

def test_deeplabcut_formats(tmp_path):
    ds = DeepLabCutDataset(dlc_project(tmp_path, HEADER + 'labeled-data/v/img0.png,10,20,,,30,25\n'))
    np.testing.assert_array_equal(ds[0]['keypoints_visible'], [[1, 0, 1]])
    assert ds.metainfo.flip_pairs and ds.metainfo.flip_indices == [0, 2, 1]
    split_index = HEADER.replace('scorer,', 'scorer,,,').replace('bodyparts,', 'bodyparts,,,').replace('coords,', 'coords,,,')
    ds = DeepLabCutDataset(dlc_project(tmp_path, split_index + 'labeled-data,v,img0.png,10,20,11,21,30,25\n'))
    np.testing.assert_array_equal(ds[0]['keypoints'][0], [[10, 20], [11, 21], [30, 25]])

@pytest.mark.parametrize('csv_text,config,message', [
    (HEADER.replace('bodyparts,nose', 'individuals,a,a,a,a,a,a\nbodyparts,nose'), None, 'multi-animal labels'),
    (HEADER + 'labeled-data/v/img0.png,10,zz,,,30,25\n', None, r'frame labeled-data/v/img0.png: nose y is not a number'),
    (HEADER.replace('rightear', 'tail'), None, r"labels body parts \['tail'\]"),
    ('a,b\n', None, 'is not a DeepLabCut CollectedData CSV'),
    (HEADER, 'multianimalproject: true\nbodyparts: MULTI!\n', 'multi-animal DeepLabCut projects are not supported yet'),
    (HEADER, 'Task: t\n', 'has no list of bodyparts'),
    (HEADER + 'labeled-data/v/img1.png,10,20,,,30,25\n', None, r'no instances to use \(skipped: 1 image file missing\)'),
])
def test_bad_deeplabcut(tmp_path, csv_text, config, message):
    project = dlc_project(tmp_path, csv_text, **({} if config is None else dict(config=config)))
    with pytest.raises(PoseaiError, match=message): DeepLabCutDataset(project)

def test_deeplabcut_corrupt_image_and_h5_only(tmp_path):
    project = dlc_project(tmp_path, HEADER + 'labeled-data/v/img0.png,10,20,,,30,25\n')
    (project/'labeled-data/v/img0.png').write_bytes(b'not a png')
    with pytest.raises(PoseaiError, match='img0.png: cannot be read as an image'): DeepLabCutDataset(project)
    (project/'labeled-data/v/CollectedData_me.csv').rename(project/'labeled-data/v/CollectedData_me.h5')
    with pytest.raises(PoseaiError, match=r'only \.h5 tables'): DeepLabCutDataset(project)

def test_guess_swaps():
    assert guess_swaps(['snout', 'leftear', 'rightear', 'tailbase']) == [('leftear', 'rightear')]
    assert guess_swaps(['L_Eye', 'R_Eye', 'paw_left', 'paw_right', 'Lshoulder', 'Rshoulder']) == [('L_Eye', 'R_Eye'), ('paw_left', 'paw_right')]
