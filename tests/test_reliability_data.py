"Bad input, end to end: every data row of nbs/80_reliability.ipynb fed to the code, and the transforms and codecs fuzzed with extreme boxes and keypoints."
import json, re, warnings
import numpy as np, cv2, pytest, torch
from PIL import Image
from hypothesis import given, settings, strategies as st
from poseai.core import PoseaiError, fix_aspect_ratio
from poseai.metainfo import parse_pose_metainfo
from poseai.datasets import CocoDataset, MpiiDataset, DeepLabCutDataset, image_size
from poseai.transforms import *
from poseai.dataloaders import TopdownItems, PoseDataLoaders
from poseai.synthetic import make_synthetic_coco
from poseai.heatmap_codecs import MSRAHeatmap, UDPHeatmap
from poseai.coord_codecs import RegressionLabel, SimCCLabel

COCO = parse_pose_metainfo('coco')
CPU = torch.device('cpu')
_Y, _X = np.mgrid[:24, :32]
RGB = np.dstack([_X * 8, _Y * 10, (_X + _Y) * 4]).astype(np.uint8)   # a small smooth picture, (h, w) = (24, 32), no two corners alike

# --- images ----------------------------------------------------------------------------------------------------------
def write_bad_image(path, kind):
    "Make the image file at `path` bad in the way `kind` says."
    data = cv2.imencode('.jpg', RGB)[1].tobytes()
    if kind == 'empty': path.write_bytes(b'')
    elif kind == 'corrupt': path.write_bytes(b'GIF89a but not really an image')
    elif kind == 'truncated': path.write_bytes(data[:len(data) // 2])
    elif kind == 'directory': path.mkdir()
    return path

UNREADABLE = [('missing', 'cannot read the image: No such file'), ('empty', 'the image file is empty'),
              ('corrupt', 'not a decodable image'), ('truncated', 'not a decodable image'), ('directory', 'cannot read the image: Is a directory')]

@pytest.mark.parametrize('defer', [False, True])
@pytest.mark.parametrize('kind,message', UNREADABLE)
def test_unreadable_image_raises_naming_it(tmp_path, kind, message, defer):
    path = write_bad_image(tmp_path/'x.jpg', kind)
    with pytest.raises(PoseaiError, match=message) as err: LoadImage(defer=defer)(dict(img_path=str(path)))
    assert err.value.file == str(path)

def test_pixel_formats_load_as_rgb_uint8(tmp_path):
    "Grey, RGBA and 16-bit files (and a grey JPEG decoded at the crop) give the 3-channel uint8 RGB image."
    grey = RGB[..., 0]
    files = {'grey.png': (grey, grey[..., None].repeat(3, -1)), 'rgba.png': (np.dstack([RGB[..., ::-1], np.full(grey.shape, 7, np.uint8)]), RGB),
             'deep.png': (RGB[..., ::-1].astype(np.uint16) * 257, RGB), 'deep_grey.png': (grey.astype(np.uint16) * 257, grey[..., None].repeat(3, -1))}
    for name, (stored, expected) in files.items():
        cv2.imwrite(str(tmp_path/name), stored)
        np.testing.assert_array_equal(imread_rgb(tmp_path/name), expected, err_msg=name)
    cv2.imwrite(str(tmp_path/'grey.jpg'), grey)
    sample = dict(img_path=str(tmp_path/'grey.jpg'), bbox=np.array([[0., 0., 31., 23.]]))
    for load in (LoadImage(), LoadImage(defer=True)):
        crop = TopdownAffine((16, 12))(GetBBoxCenterScale()(load(sample)))['img']
        assert crop.shape == (12, 16, 3) and crop.dtype == np.uint8
        np.testing.assert_array_equal(crop[..., 0], crop[..., 2])   # grey stays grey

def test_exif_orientation_is_applied_as_mmpose(tmp_path):
    "A JPEG stored 32 wide with EXIF orientation 6 decodes upright (24 wide, 32 high), exactly as MMPose's `cv2.imdecode(..., IMREAD_COLOR)`."
    exif = Image.Exif(); exif[0x0112] = 6
    Image.fromarray(RGB).save(tmp_path/'turned.jpg', exif=exif, quality=95)
    mmpose_way = cv2.imdecode(np.fromfile(tmp_path/'turned.jpg', np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    for load in (LoadImage(), LoadImage(defer=True)):
        img = settle_image(load(dict(img_path=str(tmp_path/'turned.jpg'))))['img']
        np.testing.assert_array_equal(img, mmpose_way)
    assert mmpose_way.shape == (32, 24, 3) and np.abs(mmpose_way.astype(int) - np.rot90(RGB, -1)).mean() < 4
    assert image_size(tmp_path/'turned.jpg') == (24, 32)   # the size datasets clip to is the displayed one

# --- annotation files ------------------------------------------------------------------------------------------------
GOOD = dict(id=7, image_id=1, bbox=[10, 20, 30, 40], keypoints=[15, 25, 2] * 17, num_keypoints=17)

def coco_file(tmp_path, anns, images=None, name='ann.json'):
    "A COCO-style file with `anns` on one 640x480 image (unless `images` are given)."
    images = [dict(id=1, file_name='a.jpg', width=640, height=480)] if images is None else images
    (tmp_path/name).write_text(json.dumps(dict(images=images, annotations=anns)))
    return tmp_path/name

def quietly(make):
    "The dataset `make()` builds, with its skip warnings recorded: `(dataset, [warning texts])`."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ds = make()
    return ds, [str(w.message) for w in caught]

NOT_COCO = [('[1, 2]', 'not a COCO-style file'), ('{"images": []}', "has no 'annotations' field"), ('{"info": {}}', "has no 'images', 'annotations' field"),
            ('{"images": [], "annotations": [', 'is not valid JSON'), (None, 'file not found')]

@pytest.mark.parametrize('on_bad_sample', ['raise', 'skip'])
@pytest.mark.parametrize('content,message', NOT_COCO)
def test_file_that_is_not_coco_raises_even_when_skipping(tmp_path, content, message, on_bad_sample):
    if content is not None: (tmp_path/'x.json').write_text(content)
    with pytest.raises(PoseaiError, match=message): CocoDataset(tmp_path/'x.json', on_bad_sample=on_bad_sample)
    if content in ('{"images": []}', '{"info": {}}'):
        with pytest.raises(PoseaiError, match='MPII format'): MpiiDataset(tmp_path/'x.json', on_bad_sample=on_bad_sample)

BAD = [(dict(keypoints=[15, 25, 2] * 14), r'keypoints \(x, y, v\) has 14 keypoints \(42 values\), the meta information has 17'),
       (dict(keypoints=[15, 25, 2] * 16 + [float('nan'), 25, 2]), r'keypoints \(x, y, v\) has a NaN or infinite value'),
       (dict(keypoints=[15, 25, 2] * 16 + [15, float('inf'), 2]), r'keypoints \(x, y, v\) has a NaN or infinite value'),
       (dict(bbox=[10, 20, float('-inf'), 40]), 'bbox has a NaN or infinite value'),
       (dict(bbox=[10, 20, -30, 40]), 'bbox has a negative width or height'),
       (dict(keypoints=['x'] * 51), r'keypoints \(x, y, v\) holds values that are not numbers'),
       (dict(bbox='wide'), 'bbox holds values that are not numbers')]

@pytest.mark.parametrize('change,problem', BAD)
def test_bad_annotation_raises_or_is_skipped(tmp_path, change, problem):
    path = coco_file(tmp_path, [GOOD | dict(id=6), GOOD | change, GOOD | dict(id=8)])
    with pytest.raises(PoseaiError, match=f'entry annotation 7: {problem}'): CocoDataset(path)
    ds, said = quietly(lambda: CocoDataset(path, on_bad_sample='skip'))
    assert [r['id'] for r in ds.data_list] == [6, 8]
    (reason, n), = ds.skipped.items()
    assert n == 1 and re.match(problem, reason) and ds.first_skipped == {reason: 'annotation 7'}
    assert len(said) == 1 and f'skipped 1 {reason} (first: annotation 7)' in said[0]

def test_malformed_annotation_entries_are_skipped_too(tmp_path):
    path = coco_file(tmp_path, [GOOD, 'not an object', {k: v for k, v in GOOD.items() if k != 'image_id'} | dict(id=9)])
    with pytest.raises(PoseaiError, match=r'annotation #1 \(no .id.\): is not an object'): CocoDataset(path)
    ds, _ = quietly(lambda: CocoDataset(path, on_bad_sample='skip'))
    assert len(ds) == 1 and ds.skipped == {'is not an object': 1, "has no 'image_id' field": 1}
    with pytest.raises(PoseaiError, match="on_bad_sample should be 'raise' or 'skip'"): CocoDataset(path, on_bad_sample='ignore')

def test_meta_information_that_does_not_match_names_both_counts(tmp_path):
    "A 14-keypoint file read with COCO's 17-keypoint meta: every annotation is wrong, so even skipping leaves nothing, and says why."
    path = coco_file(tmp_path, [GOOD | dict(id=i, keypoints=[15, 25, 2] * 14) for i in (1, 2)])
    with pytest.raises(PoseaiError, match='has 14 keypoints .42 values., the meta information has 17'): CocoDataset(path)
    with pytest.raises(PoseaiError, match=r'no instances to use \(skipped: 2 keypoints .* has 14 keypoints .*has 17 \(first: annotation 1\)'):
        CocoDataset(path, on_bad_sample='skip')

@pytest.mark.parametrize('on_bad_sample', ['raise', 'skip'])
def test_zero_size_and_outside_boxes(tmp_path, on_bad_sample):
    "Zero width or height, or a box wholly outside the image: MMPose's 'empty box' filter, counted; a box partly outside is clipped."
    anns = [GOOD | dict(id=1, bbox=[10, 20, 0, 40]), GOOD | dict(id=2, bbox=[10, 20, 0, 0]), GOOD | dict(id=3, bbox=[700, 20, 30, 40]),
            GOOD | dict(id=4, bbox=[-10, 470, 700, 40])]
    ds, said = quietly(lambda: CocoDataset(coco_file(tmp_path, anns), on_bad_sample=on_bad_sample))
    assert ds.skipped == {'empty box': 3} and len(said) == 1
    np.testing.assert_array_equal(ds[0]['bbox'], [[0, 470, 639, 479]])

def test_image_without_people(tmp_path):
    "Top-down: no record; bottom-up training: no record, counted; bottom-up testing: an empty record, so that evaluation sees the image."
    images = [dict(id=i, file_name=f'{i}.jpg', width=640, height=480) for i in (1, 2)]
    path = coco_file(tmp_path, [GOOD], images=images)
    topdown, said = quietly(lambda: CocoDataset(path))
    assert [r['img_id'] for r in topdown.data_list] == [1] and not said and not topdown.skipped
    train, _ = quietly(lambda: CocoDataset(path, data_mode='bottomup'))
    assert [r['img_id'] for r in train.data_list] == [1] and train.skipped == {'image without instances': 1}
    test = CocoDataset(path, data_mode='bottomup', test_mode=True)
    assert [r['img_id'] for r in test.data_list] == [1, 2] and test[1]['id'] == []

def test_detections_with_unknown_images_and_zero_boxes(tmp_path):
    path = coco_file(tmp_path, [GOOD])
    det = dict(image_id=1, bbox=[1, 2, 3, 4], score=0.9, category_id=1)
    (tmp_path/'det.json').write_text(json.dumps([det, det | dict(image_id=5), det | dict(bbox=[1, 2, 0, 0]), det | dict(bbox=[1, 2, 0, 4])]))
    load = lambda **kw: CocoDataset(path, bbox_file=tmp_path/'det.json', test_mode=True, **kw)
    with pytest.raises(PoseaiError, match=r'det.json, entry detection #1: its image is not in .*ann.json: image_id 5'): load()
    ds, said = quietly(lambda: load(on_bad_sample='skip'))
    assert len(ds) == 2 and [r['id'] for r in ds.data_list] == [0, 1]
    assert ds.skipped == {'its image is not in ' + str(path): 1, 'detection with a zero-size box': 1} and len(said) == 1

def test_unreadable_frame_is_counted_when_skipping(tmp_path):
    "DeepLabCut reads frame sizes while loading: a frame that is not an image raises, or with 'skip' is counted."
    (tmp_path/'labeled-data/v').mkdir(parents=True)
    (tmp_path/'config.yaml').write_text('Task: t\nbodyparts: [nose, tail]\n')
    (tmp_path/'labeled-data/v/CollectedData_me.csv').write_text('scorer,me,me,me,me\nbodyparts,nose,nose,tail,tail\ncoords,x,y,x,y\n'
                                                                 'labeled-data/v/a.png,1,2,3,4\nlabeled-data/v/b.png,1,2,3,4\n')
    cv2.imwrite(str(tmp_path/'labeled-data/v/a.png'), RGB)
    (tmp_path/'labeled-data/v/b.png').write_bytes(b'not a png')
    with pytest.raises(PoseaiError, match='b.png: cannot be read as an image'): DeepLabCutDataset(tmp_path)
    ds, said = quietly(lambda: DeepLabCutDataset(tmp_path, on_bad_sample='skip'))
    assert len(ds) == 1 and ds.skipped == {'cannot be read as an image': 1} and 'b.png' in said[0]

# --- samples that fail in the pipeline, in worker processes ------------------------------------------------------------
@pytest.fixture
def bad_ds(tmp_path):
    "A small synthetic dataset whose second image file is then emptied."
    ds = CocoDataset(make_synthetic_coco(tmp_path, n_images=5, size=(64, 48), seed=3, progress=False), data_prefix=tmp_path)
    (tmp_path/'images/000002.jpg').write_bytes(b'')
    return ds

def bad_indices(ds): return [i for i, r in enumerate(ds.data_list) if r['img_path'].endswith('000002.jpg')]

def valid_loader(ds, on_bad_sample, workers):
    return PoseDataLoaders.from_datasets(ds, ds, input_size=(32, 48), bs=2, num_workers=workers, on_bad_sample=on_bad_sample, device=CPU).valid

def test_error_in_a_worker_names_the_sample(bad_ds):
    with pytest.raises(PoseaiError) as err: list(valid_loader(bad_ds, 'raise', workers=2))
    idx, ann_id = map(int, re.search(r'entry sample (\d+) \(annotation id (\d+)\): the image file is empty', str(err.value)).groups())
    assert idx in bad_indices(bad_ds) and bad_ds.data_list[idx]['id'] == ann_id and bad_ds.data_list[idx]['img_path'] in str(err.value)

@pytest.mark.parametrize('workers', [0, 2])
def test_skipped_samples_are_replaced_counted_and_reported(bad_ds, workers):
    dl = valid_loader(bad_ds, 'skip', workers)
    with pytest.warns(UserWarning, match=f'skipped {len(bad_indices(bad_ds))} samples this epoch: file .*000002.jpg') as said:
        batches = list(dl)
    assert len([w for w in said if 'this epoch' in str(w.message)]) == 1
    bad, records = bad_indices(bad_ds), bad_ds.data_list
    expected = [records[min(set(range(i, len(records))) - set(bad))]['id'] for i in range(len(records))]   # the next good one
    assert torch.cat([b[1]['id'] for b in batches]).tolist() == expected
    assert len(dl.skipped) == len(bad) and all('the image file is empty' in s for s in dl.skipped)
    assert all('skipped' not in b[1] for b in batches)

def test_skipping_gives_up_when_nothing_loads_and_never_hides_bugs(bad_ds, tmp_path):
    no_box = [{k: v for k, v in bad_ds[0].items() if k != 'bbox'}]
    with pytest.raises(PoseaiError, match=r"entry sample 0 \(annotation id \d+\): KeyError: 'bbox'"):
        TopdownItems(no_box, topdown_pipeline((32, 48), train=False), 'skip')[0]
    for i in range(1, 6): (tmp_path/f'images/{i:06d}.jpg').write_bytes(b'')
    with pytest.raises(PoseaiError, match='no sample could be loaded, the first failed with: file .*the image file is empty'):
        TopdownItems(bad_ds, topdown_pipeline((32, 48), train=False), 'skip')[0]

# --- fuzzing: transforms and codecs ---------------------------------------------------------------------------------
SIDES = st.one_of(st.sampled_from([0., 1e-3, 1., 1e5]), st.floats(1e-3, 1e5))
SPREADS = st.sampled_from([0., 1e-3, 1., 1e3, 1e6])                     # how far keypoints lie from the box centre
IMAGES = st.sampled_from([(1, 1), (2, 3), (3, 2), (31, 17), (480, 640), (1500, 2000)])   # (h, w)
INPUT = (32, 48)

@st.composite
def samples(draw):
    "A one-person sample: an image of any size, a box of any size anywhere, keypoints near it or far away."
    (h, w), (bw, bh), spread = draw(IMAGES), (draw(SIDES), draw(SIDES)), draw(SPREADS)
    cx, cy = draw(st.floats(-1e5, 1e5)), draw(st.floats(-1e5, 1e5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    keypoints = (np.array([cx, cy]) + rng.normal(size=(1, 17, 2)) * spread).astype(np.float32)
    return dict(img=np.full((h, w, 3), 128, np.uint8), img_shape=(h, w), bbox=np.array([[cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]]),
                keypoints=keypoints, keypoints_visible=(rng.random((1, 17)) < 0.8).astype(np.float32), bbox_score=np.ones(1, np.float32),
                id=1, img_id=1, flip_indices=COCO.flip_indices, upper_body_ids=COCO.upper_body_ids, lower_body_ids=COCO.lower_body_ids)

def crop_or_documented_error(pipeline, sample):
    "The sample through `pipeline`, or `None` when it raised one of TopdownAffine's documented errors for a box that cannot be cropped."
    try: return pipeline(sample)
    except PoseaiError as e:
        assert re.search('the box has no size to crop|too small to crop at its position', str(e)), e
        return None

@settings(max_examples=50, deadline=None)
@given(samples(), st.floats(-180, 180), st.booleans(), st.integers(0, 2**16))
def test_fuzz_transforms(sample, rotation, use_udp, seed):
    rng = np.random.default_rng(seed)
    for step in (GetBBoxCenterScale(), RandomFlip(prob=1.), RandomHalfBody(prob=1.), RandomBBoxTransform(rotate_prob=0.)): sample = step(sample, rng)
    sample['bbox_rotation'] = np.array([rotation])
    out = crop_or_documented_error(lambda s: TopdownAffine(INPUT, use_udp)(s), sample)
    if out is None:   # only a box of no size, or one float32 cannot place where it is, may fail
        assert fix_aspect_ratio(sample['bbox_scale'], INPUT[0] / INPUT[1]).max() < 1e-5 * max(1, np.abs(sample['bbox_center']).max()); return
    assert out['img'].shape == (INPUT[1], INPUT[0], 3) and out['img'].dtype == np.uint8
    for key in ('transformed_keypoints', 'bbox_center', 'bbox_scale', 'input_center', 'input_scale'): assert np.isfinite(out[key]).all(), key
    assert (out['input_scale'] > 0).all()
    inside = ((out['transformed_keypoints'] >= 0) & (out['transformed_keypoints'] <= np.array(INPUT) - 1)).all(-1)
    weights = RegressionLabel(INPUT).encode(out['transformed_keypoints'], out['keypoints_visible'])['keypoint_weights']
    np.testing.assert_array_equal(weights, inside & (out['keypoints_visible'] > 0))   # a keypoint that left the crop weighs nothing

@settings(max_examples=50, deadline=None)
@given(samples(), st.booleans(), st.integers(0, 2**16))
def test_fuzz_topdown_pipeline(sample, train, seed):
    out = crop_or_documented_error(topdown_pipeline(INPUT, train=train, seed=seed), sample)
    if out is None: return
    assert out['img'].shape == (INPUT[1], INPUT[0], 3) and np.isfinite(out['transformed_keypoints']).all()

KEYPOINT_VALUES = st.one_of(st.sampled_from([-1e6, -40., -8., -0.5, 0., 31., 47.5, 48., 55., 1e6]), st.floats(-100, 150))

@st.composite
def keypoint_sets(draw, k=6):
    "Keypoints `(1, k, 2)` of the 32x48 input, inside, at its edges or far outside, and their visibility `(1, k)`."
    keypoints = np.array([[draw(KEYPOINT_VALUES), draw(KEYPOINT_VALUES)] for _ in range(k)], np.float32)[None]
    return keypoints, np.array([draw(st.sampled_from([0., 1.])) for _ in range(k)], np.float32)[None]

HEATMAP_CODECS = [MSRAHeatmap(INPUT, (8, 12), sigma=2.), MSRAHeatmap(INPUT, (8, 12), sigma=2., unbiased=True), UDPHeatmap(INPUT, (8, 12), sigma=2.)]

def in_map(codec, keypoints, margin):
    "Whether keypoints `(1, K, 2)` in input space lie within `margin` heatmap pixels of the heatmap."
    size = np.array(codec.heatmap_size)
    at = keypoints / codec.scale_factor
    return ((at >= -margin) & (at <= size - 1 + margin)).all(-1)

@settings(max_examples=50, deadline=None)
@given(keypoint_sets())
def test_fuzz_heatmap_codecs(keypoint_set):
    keypoints, visible = keypoint_set
    for codec in HEATMAP_CODECS:
        encoded, batch = codec.encode(keypoints, visible), codec.encode_batch(torch.from_numpy(keypoints), torch.from_numpy(visible))
        for heatmaps, weights in ((encoded['heatmaps'], encoded['keypoint_weights']), (batch['heatmaps'][0].numpy(), batch['keypoint_weights'].numpy())):
            assert np.isfinite(heatmaps).all() and np.isfinite(weights).all()
            drawn = heatmaps.reshape(len(heatmaps), -1).max(-1) > 0
            np.testing.assert_array_equal(weights[0] > 0, drawn, err_msg=repr(codec))                 # a weight iff a target to learn
            assert not (weights > 0)[~in_map(codec, keypoints, 3 * codec.sigma + 1.5)].any()          # far from the map: no weight
            np.testing.assert_array_equal(weights[in_map(codec, keypoints, 0)], visible[in_map(codec, keypoints, 0)])
        np.testing.assert_array_equal(encoded['keypoint_weights'], batch['keypoint_weights'].numpy())

COORD_CODECS = [RegressionLabel(INPUT), SimCCLabel(INPUT, sigma=2.), SimCCLabel(INPUT, 'standard', label_smooth_weight=0.1)]

@settings(max_examples=50, deadline=None)
@given(keypoint_sets())
def test_fuzz_coord_codecs(keypoint_set):
    keypoints, visible = keypoint_set
    inside = ((keypoints >= 0) & (keypoints <= np.array(INPUT) - 1)).all(-1)
    far = ((keypoints < -20) | (keypoints > np.array(INPUT) + 20)).any(-1)
    for codec in COORD_CODECS:
        encoded, batch = codec.encode(keypoints, visible), codec.encode_batch(torch.from_numpy(keypoints), torch.from_numpy(visible))
        for values in (*encoded.values(), *(v.numpy() for v in batch.values())): assert np.isfinite(values).all(), codec
        weights = encoded['keypoint_weights']
        np.testing.assert_array_equal(weights, batch['keypoint_weights'].numpy())
        assert not (weights > 0)[far].any() and (weights[inside] == visible[inside]).all()
        if isinstance(codec, SimCCLabel):
            drawn = (encoded['keypoint_x_labels'].max(-1) > 0) & (encoded['keypoint_y_labels'].max(-1) > 0)
            np.testing.assert_array_equal(weights > 0, drawn)

# --- progress ---------------------------------------------------------------------------------------------------------
def test_synthetic_progress_bar_can_be_turned_off(tmp_path, capsys):
    make_synthetic_coco(tmp_path/'on', n_images=2, size=(32, 24))
    assert '100.00% [2/2' in capsys.readouterr().out
    make_synthetic_coco(tmp_path/'off', n_images=2, size=(32, 24), progress=False)
    assert capsys.readouterr().out == ''
