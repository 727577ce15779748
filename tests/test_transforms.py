"Transforms: MMPose 1.3.2's semantics, geometry that pixels and keypoints agree on (hypothesis), seeded determinism, bad input."
import copy, warnings
import numpy as np, cv2, pytest
from hypothesis import given, assume, settings, strategies as st
from conftest import data_file
from poseai.core import *
from poseai.transforms import *
from poseai.metainfo import parse_pose_metainfo
from poseai.datasets import CocoDataset

COCO = parse_pose_metainfo('coco')
COCO_META = dict(flip_indices=COCO.flip_indices, upper_body_ids=COCO.upper_body_ids, lower_body_ids=COCO.lower_body_ids)

@pytest.fixture(scope='module')
def records():
    "MMPose-style records, one per annotated person of `samples/coco`."
    with warnings.catch_warnings():   # it reports the two annotations without keypoints it leaves out
        warnings.simplefilter('ignore')
        ds = CocoDataset('test_coco.json', data_root=data_file('samples', 'coco'), data_prefix=dict(img=''))
    return [ds[i] for i in range(len(ds))]

@pytest.fixture(scope='module')
def loaded(records): return [GetBBoxCenterScale()(LoadImage()(r)) for r in records]

def sample_of(img, keypoints, visible=None, **kwargs):
    "A one-person sample around `keypoints` `(K, 2)` on `img`."
    keypoints = np.asarray(keypoints, np.float32)[None]
    visible = np.ones(keypoints.shape[:2], np.float32) if visible is None else np.asarray(visible, np.float32)[None]
    return dict(img=img, img_shape=img.shape[:2], bbox=np.concatenate([keypoints.min(1), keypoints.max(1)], -1),
                keypoints=keypoints, keypoints_visible=visible, **COCO_META, **kwargs)

def same(a, b):
    "Two samples hold equal values under every key."
    assert a.keys() == b.keys()
    for k in a: np.testing.assert_equal(a[k], b[k], err_msg=k)

# --- decoding and bad input ---------------------------------------------------------------------------------------
def test_imread_rgb_is_cv2_bgr_reversed(records):
    for path in {r['img_path'] for r in records}:
        np.testing.assert_array_equal(imread_rgb(path), cv2.imread(path)[..., ::-1])

@pytest.mark.parametrize('content,message', [(None, 'cannot read the image: No such file'), (b'', 'the image file is empty'),
    (b'GIF89a not really', 'not a decodable image'), ('half', 'not a decodable image'), ('dir', 'cannot read the image: Is a directory')])
def test_bad_image_files_raise_naming_the_file(tmp_path, records, content, message):
    path = tmp_path / 'bad.jpg'
    if content == 'half':
        data = open(records[0]['img_path'], 'rb').read(); path.write_bytes(data[:len(data) // 2])
    elif content == 'dir': path.mkdir()
    elif content is not None: path.write_bytes(content)
    with pytest.raises(PoseaiError, match=message) as err: LoadImage()(dict(records[0], img_path=str(path)))
    assert err.value.file == str(path) and str(path) in str(err.value)

def test_load_image_keeps_an_image_in_the_sample():
    img = np.zeros((5, 7, 3), np.uint8)
    out = LoadImage()(dict(img=img))
    assert out['img'] is img and out['img_shape'] == out['ori_shape'] == (5, 7)

def test_topdown_affine_refuses_several_people():
    sample = dict(img=np.zeros((10, 10, 3), np.uint8), bbox_center=np.zeros((2, 2)), bbox_scale=np.ones((2, 2)), id=7)
    with pytest.raises(PoseaiError, match='entry 7: a top-down crop holds one person, the sample has 2'): TopdownAffine((192, 256))(sample)

# --- MMPose's numbers ---------------------------------------------------------------------------------------------
def test_bbox_center_scale_matches_mmpose():
    ref = np.load(data_file('reference', 'bbox.npz'))
    out = GetBBoxCenterScale()(dict(bbox=ref['xyxy']))
    np.testing.assert_allclose(out['bbox_center'], ref['center'], atol=1e-5); np.testing.assert_allclose(out['bbox_scale'], ref['scale'], atol=1e-5)

def test_topdown_affine_uses_mmpose_warp():
    "Where the aspect fix keeps the box width, MMPose's matrix depends on that width only: the keypoints follow it exactly."
    ref, probe = np.load(data_file('reference', 'warp.npz')), np.array([[[0., 0.], [100., 50.], [321., 123.]]], np.float32)
    rows = [i for i, s in enumerate(ref['scales']) if s[0] >= s[1] * 0.75]
    assert len(rows) >= 10
    for i in rows:
        sample = dict(img=np.zeros((8, 8, 3), np.uint8), bbox_center=ref['centers'][i][None], bbox_scale=ref['scales'][i][None],
                      bbox_rotation=ref['rots'][i][None], keypoints=probe)
        out = TopdownAffine((192, 256))(sample)['transformed_keypoints']
        np.testing.assert_allclose(out, affine_points(probe, ref['warp'][i]), atol=1e-3, err_msg=f'row {i}')

@pytest.mark.parametrize('use_udp', [False, True])
def test_crop_is_one_warp_of_the_full_image(loaded, use_udp):
    "With randomness off, the crop is `cv2.warpAffine` of the decoded image with the core's matrix: MMPose's crop, pixel for pixel."
    make = get_udp_warp_matrix if use_udp else get_warp_matrix
    for s in loaded:
        out = TopdownAffine((192, 256), use_udp)(s)
        mat = make(s['bbox_center'][0], fix_aspect_ratio(s['bbox_scale'][0], 0.75), 0., (192, 256))
        np.testing.assert_array_equal(out['img'], cv2.warpAffine(s['img'], mat, (192, 256), flags=cv2.INTER_LINEAR))
        # MMPose moves keypoints with cv2.transform in float32; we agree to float32 rounding
        np.testing.assert_allclose(out['transformed_keypoints'], cv2.transform(s['keypoints'], mat), atol=2e-4)

def test_lazy_flip_is_flip_then_warp_within_one_grey_level(loaded):
    "Folding the mirror into the warp gives MMPose's crop of the flipped image up to interpolation rounding."
    augment = Compose([RandomFlip(prob=1.), RandomHalfBody(), RandomBBoxTransform()])
    rng, differing = np.random.default_rng(0), []
    for s in loaded * 4:
        jittered = augment(dict(s, img_affine=np.eye(3)), rng)   # keep the flip pending
        lazy, eager = TopdownAffine((192, 256))(jittered), TopdownAffine((192, 256))(settle_image(jittered))
        diff = np.abs(lazy['img'].astype(int) - eager['img'])
        assert diff.max() <= 1
        differing.append((diff > 0).mean())
        np.testing.assert_array_equal(lazy['transformed_keypoints'], eager['transformed_keypoints'])
    assert np.mean(differing) < 0.01

# --- flips --------------------------------------------------------------------------------------------------------
directions = st.sampled_from(['horizontal', 'vertical', 'diagonal'])

@st.composite
def marked_samples(draw):
    "An image with 17 keypoints on distinct pixels, each pixel painted with its keypoint's number + 1."
    w, h = draw(st.integers(20, 90)), draw(st.integers(20, 90))
    cells = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))).choice(w * h, 17, replace=False)
    xy = np.stack([cells % w, cells // w], -1).astype(np.float32)
    img = np.zeros((h, w, 3), np.uint8)
    img[xy[:, 1].astype(int), xy[:, 0].astype(int), 0] = np.arange(1, 18)
    visible = draw(st.lists(st.sampled_from([0., 1.]), min_size=17, max_size=17))
    return sample_of(img, xy, visible)

@given(sample=marked_samples(), direction=directions)
def test_flip_twice_is_identity(sample, direction):
    sample = GetBBoxCenterScale()(sample)
    flip = RandomFlip(prob=1., direction=direction)
    twice = settle_image(flip(flip(sample)))
    same({k: v for k, v in twice.items() if k not in ('flip', 'flip_direction')}, sample)

@given(sample=marked_samples(), direction=directions)
def test_flipped_keypoints_land_on_mirrored_content_and_swap_sides(sample, direction):
    flipped = settle_image(RandomFlip(prob=1., direction=direction)(sample))
    kp = flipped['keypoints'][0].astype(int)
    found = flipped['img'][kp[:, 1], kp[:, 0], 0] - 1                    # which original keypoint each new one sits on
    swaps = direction != 'diagonal'                                       # MMPose: a diagonal flip is a rotation, no swap
    expected = np.array(COCO_META['flip_indices']) if swaps else np.arange(17)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_array_equal(flipped['keypoints_visible'][0], sample['keypoints_visible'][0][expected])

def test_flip_probability_and_directions():
    rng, sample = np.random.default_rng(0), sample_of(np.zeros((4, 4, 3), np.uint8), np.zeros((17, 2)))
    flips = [RandomFlip()(sample, rng)['flip'] for _ in range(4000)]
    assert abs(np.mean(flips) - 0.5) < 0.03
    picks = [RandomFlip(prob=[0.2, 0.3], direction=['vertical', 'diagonal'])(sample, rng)['flip_direction'] for _ in range(4000)]
    for d, p in (('vertical', 0.2), ('diagonal', 0.3), (None, 0.5)): assert abs(picks.count(d) / 4000 - p) < 0.03
    with pytest.raises(ValueError): RandomFlip(prob=[0.5], direction=['horizontal', 'vertical'])

def test_flip_without_image_moves_keypoints_only():
    out = RandomFlip(prob=1.)(dict(img_shape=(10, 20), keypoints=np.array([[[0., 1.]] * 17], np.float32), **COCO_META))
    assert 'img_affine' not in out and out['keypoints'][0, 0].tolist() == [19, 1]

def test_flip_after_crop_mirrors_the_crop(loaded):
    crop = TopdownAffine((192, 256))(loaded[0])
    flipped = Compose([RandomFlip(prob=1.)])(crop)
    np.testing.assert_array_equal(flipped['img'], cv2.flip(crop['img'], 1))

# --- keypoints follow the pixels through the affine crop ------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(kx=st.floats(30, 290), ky=st.floats(30, 210), zoom=st.floats(0.6, 2.), rot=st.floats(-90, 90),
       offset=st.tuples(st.floats(-90, 90), st.floats(-120, 120)), flip=st.booleans(), use_udp=st.booleans())
def test_affine_maps_keypoints_onto_the_warped_image(kx, ky, zoom, rot, offset, flip, use_udp):
    "A Gaussian spot drawn at a keypoint ends up, in the crop, centred on the transformed keypoint."
    yy, xx = np.mgrid[:240, :320]
    sigma = 3 / zoom + 1                                                  # about 3 crop pixels or more
    spot = (255 * np.exp(-((xx - kx) ** 2 + (yy - ky) ** 2) / (2 * sigma ** 2))).round().astype(np.uint8)
    sample = sample_of(np.dstack([spot] * 3), np.full((17, 2), (kx, ky)),
                       bbox_center=np.array([[kx + offset[0], ky + offset[1]]], np.float32),
                       bbox_scale=np.array([[192 / zoom, 256 / zoom]], np.float32), bbox_rotation=np.array([rot], np.float32))
    out = Compose([RandomFlip(prob=float(flip)), TopdownAffine((192, 256), use_udp)])(sample)
    u, v = out['transformed_keypoints'][0, 0]
    reach = 4 * sigma * zoom
    assume(reach < u < 191 - reach and reach < v < 255 - reach)
    crop = out['img'][..., 0].astype(float)
    vv, uu = np.mgrid[:256, :192]
    np.testing.assert_allclose([(crop * uu).sum() / crop.sum(), (crop * vv).sum() / crop.sum()], [u, v], atol=0.3)

# --- half body and box jitter: MMPose's rules -----------------------------------------------------------------------
UPPER, LOWER = COCO.upper_body_ids, COCO.lower_body_ids

@pytest.mark.parametrize('seen,prefer_upper,min_total,kept', [
    (range(17), 1., 9, UPPER), (range(17), 0., 9, LOWER),
    (UPPER, 0., 9, UPPER),                            # no lower body: the upper one even when the lower is preferred
    (list(range(9)) + [11, 12], 0., 9, list(range(9))),   # 2 < 3 lower keypoints
    ([0] + LOWER, 1., 6, LOWER),                      # 1 < 2 upper keypoints: the lower body even when the upper is preferred
    ([0, 11, 12], 1., 3, None),                       # neither half has enough
    (range(8), 1., 9, None)])                         # 8 < 9 visible keypoints: the whole person
def test_half_body_choice(seen, prefer_upper, min_total, kept):
    "MMPose 1.3.2's rules for which half to keep; only visible keypoints count."
    visible = np.isin(np.arange(17), list(seen)).astype(np.float32)
    t = RandomHalfBody(min_total_keypoints=min_total, prob=1., upper_prioritized_prob=prefer_upper)
    assert t.choose(visible, UPPER, LOWER, np.random.default_rng(0)) == kept

def test_half_body_box(loaded):
    s = loaded[0]
    out = RandomHalfBody(prob=1., upper_prioritized_prob=1.)(s)
    upper = s['keypoints'][0, [i for i in COCO.upper_body_ids if s['keypoints_visible'][0, i] > 0]]
    np.testing.assert_array_equal(out['bbox_center'][0], upper.mean(0))
    np.testing.assert_array_equal(out['bbox_scale'][0], (upper.max(0) - upper.min(0)) * 1.5)
    assert out['bbox_scale'].dtype == np.float32

def test_bbox_jitter_statistics():
    shift, scale, rotation = RandomBBoxTransform().draw(200_000, np.random.default_rng(0))
    assert abs((shift != 0).all(1).mean() - 0.3) < 0.005 and abs((rotation != 0).mean() - 0.6) < 0.005
    assert np.abs(shift).max() <= 0.16 and scale.min() >= 0.5 and scale.max() <= 1.5 and np.abs(rotation).max() <= 80
    assert abs(scale.mean() - 1) < 0.005 and abs(scale.std() - 0.5 * 0.5396) < 0.005   # truncated normal, sd 0.5396 on [-1, 1]

def test_bbox_jitter_applies_mmpose_formula(loaded, monkeypatch):
    t = RandomBBoxTransform()
    monkeypatch.setattr(t, 'draw', lambda n, rng: (np.array([[0.1, -0.05]], np.float32), np.array([[1.2]], np.float32), np.array([30.], np.float32)))
    s = loaded[0]; out = t(s)
    np.testing.assert_allclose(out['bbox_center'], s['bbox_center'] + [[0.1, -0.05]] * s['bbox_scale'], rtol=1e-6)
    np.testing.assert_allclose(out['bbox_scale'], s['bbox_scale'] * 1.2, rtol=1e-6)
    assert out['bbox_rotation'].tolist() == [30.]

# --- photometric distortion ---------------------------------------------------------------------------------------
NOTHING = dict(contrast_mode=0, brightness=0, contrast=0, hsv_mode=0, swap=0, beta=0., alpha=1., saturation=1., hue=0, order=[0, 1, 2])

def test_photometric_identity_and_purity():
    img = np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8); before = img.copy()
    np.testing.assert_array_equal(PhotometricDistortion().apply(img, NOTHING), img)
    for seed in range(20): assert PhotometricDistortion()(dict(img=img), np.random.default_rng(seed))['img'].dtype == np.uint8
    np.testing.assert_array_equal(img, before)

def test_photometric_saturation_zero_is_grey():
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    grey = PhotometricDistortion().apply(img, NOTHING | dict(hsv_mode=1, saturation=0.))
    assert (grey.max(-1) - grey.min(-1)).max() <= 1

def test_photometric_fixed_hue_stays_in_range():
    red = np.full((1, 1, 3), (200, 0, 0), np.uint8)
    for hue in (-18, -1, 17):
        fixed = PhotometricDistortion(fix_mmpose_bugs=True).apply(red, NOTHING | dict(hsv_mode=2, hue=hue))
        assert fixed[0, 0, 0] == 200 and fixed[0, 0, 1] <= 120                    # still red-ish

# --- seeded pipelines ---------------------------------------------------------------------------------------------
def run(pipeline, records): return [pipeline(r) for r in records * 3]

def test_seeded_pipeline_is_deterministic(records):
    first, second = run(topdown_pipeline(seed=0), records), run(topdown_pipeline(seed=0), records)
    for a, b in zip(first, second): same(a, b)
    other = run(topdown_pipeline(seed=1), records)
    assert any(not np.array_equal(a['img'], b['img']) for a, b in zip(first, other))
    pipeline = topdown_pipeline(seed=5); pipeline.seed(0)
    for a, b in zip(first, run(pipeline, records)): same(a, b)

def test_pipeline_leaves_records_alone_and_ships_a_crop(records):
    before = copy.deepcopy(records)
    out = run(topdown_pipeline(seed=0), records)
    for a, b in zip(records, before): same(a, b)
    for o in out:
        assert o['img'].shape == (256, 192, 3) and o['img'].dtype == np.uint8 and 'img_affine' not in o
        assert o['transformed_keypoints'].shape == (1, 17, 2) and o['input_scale'][0] / o['input_scale'][1] == pytest.approx(0.75)

# --- deferred decoding: rows cut below the crop (exact), reduced decode (training) -------------------------------------
TEXTURE = cv2.resize(np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
SAMPLINGS = {'4:2:0': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, '4:2:2': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
             '4:4:4': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}

def jpeg(img, *params):
    "JPEG bytes of RGB `img` as OpenCV writes them with `params`."
    return cv2.imencode('.jpg', np.ascontiguousarray(img[..., ::-1]), list(params))[1].tobytes()

def exif_turned(data, orientation):
    "JPEG bytes `data` with an EXIF block holding only `orientation`."
    tiff = b'II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00' + bytes([orientation]) + bytes(7)
    return data[:2] + b'\xff\xe1' + (len(tiff) + 8).to_bytes(2, 'big') + b'Exif\x00\x00' + tiff + data[2:]

def decoded(data, flags=cv2.IMREAD_COLOR_RGB): return cv2.imdecode(np.frombuffer(data, np.uint8), flags)

REDUCED_FLAGS = {1: cv2.IMREAD_COLOR_RGB, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2 | cv2.IMREAD_COLOR_RGB,
                 4: cv2.IMREAD_REDUCED_GRAYSCALE_4 | cv2.IMREAD_COLOR_RGB, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8 | cv2.IMREAD_COLOR_RGB}

@pytest.mark.parametrize('layout', [*SAMPLINGS, 'grey'])
def test_cut_decode_gives_the_rows_of_the_full_decode(layout):
    data = jpeg(TEXTURE[..., :1]) if layout == 'grey' else jpeg(TEXTURE, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLINGS[layout])
    image = DeferredJpeg(data, layout)
    assert image.shape == (240, 320, 3) and image.mcu_height == (16 if layout == '4:2:0' else 8)
    for r, flags in REDUCED_FLAGS.items():
        whole = decoded(data, flags)
        np.testing.assert_array_equal(image.decode(reduction=r), whole)
        for rows in range(0, 241, 7):
            part, wanted = image.decode(rows, r), -(-rows // r)
            np.testing.assert_array_equal(part[:wanted], whole[:wanted], err_msg=f'{rows} rows at 1/{r}')
            assert len(part) == min(240, (-(-rows // image.mcu_height) + 1) * image.mcu_height) // r   # it did stop early

def test_cut_decode_of_the_coco_images(records):
    for path in {r['img_path'] for r in records}:
        data, image = open(path, 'rb').read(), imread_deferred(path)
        assert isinstance(image, DeferredJpeg) and image.shape == imread_rgb(path).shape
        for rows in (1, image.shape[0] // 3, image.shape[0] - 20): np.testing.assert_array_equal(image.decode(rows)[:rows], decoded(data)[:rows])

@pytest.mark.parametrize('kind', ['progressive', 'restarts', 'exif turned', 'truncated', 'png', 'empty scan'])
def test_files_that_cannot_be_cut_are_decoded_whole(tmp_path, kind):
    data = {'progressive': lambda: jpeg(TEXTURE, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), 'restarts': lambda: jpeg(TEXTURE, cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
            'exif turned': lambda: exif_turned(jpeg(TEXTURE), 6), 'truncated': lambda: jpeg(TEXTURE)[:-100],
            'png': lambda: cv2.imencode('.png', TEXTURE)[1].tobytes(), 'empty scan': lambda: b'\xff\xd8\xff\xd9'}[kind]()
    assert jpeg_layout(data) is None
    with pytest.raises(ValueError, match='not a JPEG that can be decoded cut'): DeferredJpeg(data, kind)
    (tmp_path / 'x.jpg').write_bytes(data)
    if kind in ('truncated', 'empty scan'):
        with pytest.raises(PoseaiError, match='not a decodable image'): LoadImage(defer=True)(dict(img_path=str(tmp_path / 'x.jpg')))
    else:
        out = LoadImage(defer=True)(dict(img_path=str(tmp_path / 'x.jpg')))
        np.testing.assert_array_equal(out['img'], imread_rgb(tmp_path / 'x.jpg'))
        assert out['img_shape'] == ((320, 240) if kind == 'exif turned' else (240, 320))    # OpenCV turns the image upright

def test_upright_exif_and_fill_bytes_are_cut():
    data = jpeg(TEXTURE)
    for variant in (exif_turned(data, 1), data[:2] + b'\xff\xff' + data[2:]):
        assert jpeg_layout(variant)[:3] == (240, 320, 16)
        np.testing.assert_array_equal(DeferredJpeg(variant).decode(50)[:50], decoded(data)[:50])

def test_file_broken_after_its_headers_raises_at_the_crop(tmp_path):
    data = jpeg(TEXTURE)
    at = data.index(b'\xff\xdb')                                     # drop the quantisation tables: libjpeg refuses the file
    (tmp_path / 'broken.jpg').write_bytes(data[:at] + data[at + 2 + int.from_bytes(data[at + 2:at + 4], 'big'):])
    record = sample_of(np.zeros((1, 1, 3), np.uint8), [[100., 100.]] * 16 + [[150., 180.]])
    record = {k: v for k, v in record.items() if k not in ('img', 'img_shape')} | dict(img_path=str(tmp_path / 'broken.jpg'))
    with pytest.raises(PoseaiError, match='not a decodable image') as err: topdown_pipeline(train=False)(record)
    assert err.value.file == str(tmp_path / 'broken.jpg')

def test_load_image_defer_and_cache_exclude_each_other():
    with pytest.raises(ValueError, match='cache_size or defer'): LoadImage(cache_size=1, defer=True)

def augmented(record, rng, load):
    "`record` loaded by `load` and through the training augmentations drawn from `rng`, before the crop."
    sample = load(record)
    for t in (GetBBoxCenterScale(), RandomFlip(direction=['horizontal', 'vertical']), RandomHalfBody(), RandomBBoxTransform()):
        sample = t(sample, rng)
    return sample

def test_deferred_crop_is_the_decoded_crop_pixel_for_pixel(records, tmp_path):
    "The standard pipeline cuts the decode below the crop: its crops stay MMPose's exactly, on COCO's 4:4:4 files and a 4:2:0 one."
    (tmp_path / 'big.jpg').write_bytes(jpeg(cv2.resize(TEXTURE, (640, 480))))   # OpenCV's default: 4:2:0, 16-row MCUs
    extra = dict(records[0], img_path=str(tmp_path / 'big.jpg'))
    for i, record in enumerate(records * 3 + [extra] * 12):
        for use_udp in (False, True):
            eager, deferred = (TopdownAffine((192, 256), use_udp)(augmented(record, np.random.default_rng(i), load))
                               for load in (LoadImage(), LoadImage(defer=True)))
            same(eager, deferred)
    for a, b in zip(run(topdown_pipeline(seed=0), records), run(Compose([LoadImage(), *topdown_pipeline().transforms[1:]], seed=0), records)):
        same(a, b)

def test_reduced_decode_is_exact_where_the_crop_does_not_shrink_twofold(loaded, records):
    for record, s in zip(records, loaded):
        deferred = GetBBoxCenterScale()(LoadImage(defer=True)(record))
        if fix_aspect_ratio(s['bbox_scale'], 0.75)[0, 1] < 2 * 256:
            same(TopdownAffine((192, 256), reduced_decode=True)(deferred), TopdownAffine((192, 256))(s))
    assert (reduction_matrix(1) == np.eye(3)).all()

@pytest.mark.parametrize('height,rotation,reduction', [(520, 0., 2), (700, 25., 2), (1100, -40., 4), (2100, 33., 8)])
def test_reduced_decode_puts_content_where_the_warp_says(height, rotation, reduction):
    "A white square's centre lands within 0.05 output pixel of where the warp maps it (a missing half-pixel offset: 0.1-0.6)."
    square = np.zeros((480, 640, 3), np.uint8); square[181:245, 283:347] = 255
    warp = get_warp_matrix(np.array([315., 213.]), np.array([height * 0.75, height]), rotation, (192, 256))
    pixels, folded = DeferredJpeg(jpeg(square, cv2.IMWRITE_JPEG_QUALITY, 95)).for_warp(warp, (192, 256), reduce=True)
    assert pixels.shape[1] == 640 // reduction                       # the largest reduction no coarser than the crop
    crop = cv2.warpAffine(pixels, folded, (192, 256), flags=cv2.INTER_LINEAR)[..., 0].astype(float)
    ys, xs = np.mgrid[:256, :192]
    centre = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    np.testing.assert_allclose(centre, affine_points(np.array([314.5, 212.5]), warp), atol=0.05)

def test_reduced_decode_keeps_the_coco_crops_within_a_few_grey_levels(records):
    rng, diffs = np.random.default_rng(0), []
    for record in records * 4:
        sample = augmented(record, rng, LoadImage(defer=True))
        height = 256 * rng.uniform(2, 9)                             # shrunk 2 to 9 times: decoded at 1/2 to 1/8
        sample |= dict(bbox_scale=np.array([[0.75 * height, height]], np.float32))
        sharp, smooth = (TopdownAffine((192, 256), reduced_decode=reduce)(sample) for reduce in (False, True))
        np.testing.assert_array_equal(sharp['transformed_keypoints'], smooth['transformed_keypoints'])
        diffs.append(np.abs(sharp['img'].astype(int) - smooth['img']).mean())
    assert np.mean(diffs) < 4 and max(diffs) < 10, (np.mean(diffs), max(diffs))
    assert min(diffs) > 0                                            # they were decoded reduced
