"Meta information: built-ins against MMPose's dataset_info files (`tests/data/metainfo`), errata, bad input, properties."
import json, re
import numpy as np, pytest
from hypothesis import given, strategies as st
from conftest import data_file
from poseai.core import PoseaiError
from poseai.metainfo import *

NAMES = builtin_metainfo()

def renumber(info):
    "Ids are list positions, as in the keys of MMPose's .py configs."
    for i, k in enumerate(info['keypoint_info']): k['id'] = i

def swap_back(name, partner):
    def fix(info): next(k for k in info['keypoint_info'] if k['name'] == name)['swap'] = partner
    return fix

def add_weight(info): info['joint_weights'].append(1.)

# dataset -> (what the error names, the fix the built-in carries)
ERRATA = {'coco_aic': ('entry joint_weights: has 18 values for 19 keypoints', add_weight),
          'humanart_aic': ('entry joint_weights: has 18 values for 19 keypoints', add_weight),
          'coco_wholebody_face': ("entry keypoint 'face-52': id 52 is already used by keypoint 'face-51'", renumber),
          'coco_wholebody_openpose': ("entry keypoint 'left_big_toe': id 17 is already used by keypoint 'left_ear'", renumber),
          'deepfashion_full': ("entry keypoint 'left waistline': id 0 is already used by keypoint 'left collar'", renumber),
          'deepfashion2': ("entry keypoint 'vest_kpt9': swaps with 'vest_kpt13', but 'vest_kpt13' has no swap partner",
                           swap_back('vest_kpt13', 'vest_kpt9'))}

def mmpose_file(name): return data_file('metainfo', f'{name}.json')

def assert_same_meta(a, b):
    "Same keys, and per key the same type, dtype and values."
    assert list(a) == list(b)
    for key in a:
        assert type(a[key]) is type(b[key]), key
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif key == 'stats_info': assert_same_meta(a[key], b[key])
        else: assert a[key] == b[key], key

# --- built-ins -----------------------------------------------------------------------------------------------------
def test_builtin_names_are_the_55_mmpose_files():
    assert len(NAMES) == 55
    mmpose_names = sorted(p.stem for p in data_file('metainfo').glob('*.json'))
    assert NAMES == mmpose_names

@pytest.mark.parametrize('name', NAMES)
def test_builtin_counts_match_mmpose(name):
    meta, info = parse_pose_metainfo(name), json.loads(mmpose_file(name).read_text())
    assert meta.dataset_name == info['dataset_name']
    assert (meta.num_keypoints, meta.num_skeleton_links) == (len(info['keypoint_info']), len(info['skeleton_info']))
    assert len(meta.sigmas) == len(info['sigmas'])

@pytest.mark.parametrize('name', [n for n in NAMES if n not in ERRATA])
def test_builtin_parses_like_mmpose_file(name):
    assert_same_meta(parse_pose_metainfo(dict(from_file=mmpose_file(name))), parse_pose_metainfo(name))

@pytest.mark.parametrize('name', ERRATA)
def test_mmpose_errata_are_rejected_naming_the_entry(name):
    message, _ = ERRATA[name]
    with pytest.raises(PoseaiError, match=rf'^file .*{name}\.json, ' + re.escape(message)):
        parse_pose_metainfo(dict(from_file=mmpose_file(name)))

@pytest.mark.parametrize('name', ERRATA)
def test_builtin_is_mmpose_file_with_only_the_erratum_fixed(name):
    info = json.loads(mmpose_file(name).read_text())
    ERRATA[name][1](info)
    assert_same_meta(parse_pose_metainfo(info), parse_pose_metainfo(name))

def test_coco_facts():
    coco = parse_pose_metainfo('coco')
    assert coco.flip_indices == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert coco.flip_pairs[:2] == [(2, 1), (1, 2)] and len(coco.flip_pairs) == 16
    np.testing.assert_allclose(coco.sigmas, [.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062,
                                             .107, .107, .087, .087, .089, .089], rtol=1e-6)
    assert coco.sigmas.dtype == np.float32 and coco.keypoint_colors.dtype == np.uint8
    assert coco.skeleton_links[0] == (15, 13) and coco.num_skeleton_links == 19

def test_coco_flip_indices_match_mmpose_reference():
    ref = np.load(data_file('reference', 'flip.npz'))
    assert parse_pose_metainfo('coco').flip_indices == ref['flip_indices'].tolist()

def test_builtin_parse_is_cached_but_private_to_each_caller():
    first = parse_pose_metainfo('mpii')
    first.sigmas[0] = 9.; first.flip_indices.reverse(); first.keypoint_name2id.clear()
    second = parse_pose_metainfo('mpii')
    assert second.sigmas[0] != 9. and second.flip_indices[0] == 5 and len(second.keypoint_name2id) == 16
    assert parse_pose_metainfo(second) is second

def test_unknown_builtin_suggests_close_names():
    with pytest.raises(PoseaiError, match=r"'coco_wholebdy' is not a built-in dataset \(did you mean 'coco_wholebody'"):
        parse_pose_metainfo('coco_wholebdy')

def test_h36m_stats_info_is_float32():
    stats = parse_pose_metainfo('h36m').stats_info
    assert set(stats) == {'bbox_center', 'bbox_scale'} and all(v.dtype == np.float32 for v in stats.values())

# --- declaring datasets and reading files ----------------------------------------------------------------------------
MOUSE = dict(name='mouse', keypoints=['snout', 'left_ear', 'right_ear', 'tailbase', 'tailtip'], swaps=[('left_ear', 'right_ear')],
             skeleton=[('snout', 'left_ear'), ('snout', 'right_ear'), ('left_ear', 'tailbase'), ('right_ear', 'tailbase'), ('tailbase', 'tailtip')],
             upper=['snout', 'left_ear', 'right_ear'], lower=['tailbase', 'tailtip'], sigmas=[.025, .035, .035, .079, .079])

def test_make_metainfo_parses():
    meta = parse_pose_metainfo(make_metainfo(**MOUSE))
    assert meta.flip_indices == [0, 2, 1, 3, 4] and meta.flip_pairs == [(2, 1), (1, 2)]
    assert meta.skeleton_links == [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)]
    assert meta.upper_body_ids == [0, 1, 2] and meta.lower_body_ids == [3, 4]
    assert meta.keypoint_colors.tolist() == [[255, 128, 0]] * 5 and meta.skeleton_link_colors.tolist() == [[96, 96, 255]] * 5
    np.testing.assert_array_equal(meta.dataset_keypoint_weights, np.ones(5, np.float32))
    assert repr(meta) == "PoseMeta('mouse': 5 keypoints, 5 links)"

def test_json_and_py_files_load(tmp_path):
    info = make_metainfo(**MOUSE)
    (tmp_path / 'mouse.json').write_text(json.dumps(info))
    (tmp_path / 'mouse.py').write_text(f'# an MMPose dataset config\ndataset_info = dict(**{info!r})\n')
    expected = parse_pose_metainfo(info)
    for source in (dict(from_file=str(tmp_path / 'mouse.py')), tmp_path / 'mouse.py', str(tmp_path / 'mouse.json')):
        assert_same_meta(parse_pose_metainfo(source), expected)

def test_py_file_without_dataset_info_names_it(tmp_path):
    (tmp_path / 'bad.py').write_text('info = {}\n')
    with pytest.raises(PoseaiError, match=r'file .*bad\.py, entry dataset_info'): parse_pose_metainfo(dict(from_file=tmp_path / 'bad.py'))

# --- malformed meta information: each error names its entry ----------------------------------------------------------
def broken(change):
    info = make_metainfo(**MOUSE); change(info); return info

def rename(i, name): return lambda m: m['keypoint_info'][i].update(name=name)

BAD = {
    'missing key': (lambda m: m.pop('skeleton_info'), 'entry skeleton_info: is missing'),
    'duplicate name': (rename(4, 'snout'), "entry keypoint 'snout': the name is used by keypoints 0 and 4"),
    'duplicate id': (lambda m: m.update(keypoint_info=[dict(k, id=min(k['id'], 3)) for k in m['keypoint_info'].values()]),
                     "entry keypoint 'tailtip': id 3 is already used by keypoint 'tailbase'"),
    'non-contiguous id': (lambda m: m['keypoint_info'].update({7: m['keypoint_info'].pop(4)}), "entry keypoint 'tailtip': id 7 is not in 0..4"),
    'unknown swap partner': (lambda m: m['keypoint_info'][1].update(swap='right_eare'),
                             "entry keypoint 'left_ear': its swap partner 'right_eare' is not a keypoint (did you mean 'right_ear'"),
    'one-sided swap': (lambda m: m['keypoint_info'][2].update(swap=''),
                       "entry keypoint 'left_ear': swaps with 'right_ear', but 'right_ear' has no swap partner"),
    'swap to a third keypoint': (lambda m: m['keypoint_info'][2].update(swap='tailtip'),
                                 "entry keypoint 'left_ear': swaps with 'right_ear', but 'right_ear' swaps with 'tailtip'"),
    'unknown link keypoint': (lambda m: m['skeleton_info'][2].update(link=('left_ear', 'tail_base')),
                              "entry skeleton link 2 ('left_ear', 'tail_base'): 'tail_base' is not a keypoint (did you mean 'tailbase'"),
    'short joint_weights': (lambda m: m.update(joint_weights=[1.] * 4), 'entry joint_weights: has 4 values for 5 keypoints'),
    'long sigmas': (lambda m: m.update(sigmas=[.1] * 6), 'entry sigmas: has 6 values for 5 keypoints'),
}

@pytest.mark.parametrize('case', BAD)
def test_bad_meta_names_the_entry(case):
    change, message = BAD[case]
    with pytest.raises(PoseaiError) as err: parse_pose_metainfo(broken(change))
    assert message in str(err.value)

def test_bad_meta_from_file_names_the_file(tmp_path):
    (tmp_path / 'mouse.json').write_text(json.dumps(broken(BAD['long sigmas'][0])))
    with pytest.raises(PoseaiError, match=r'^file .*mouse\.json, entry sigmas: has 6 values'): parse_pose_metainfo(tmp_path / 'mouse.json')

@pytest.mark.parametrize('kwargs,message', [(dict(upper=['snot']), "entry upper: 'snot' is not a keypoint (did you mean 'snout'"),
                                            (dict(keypoint_colors=[[0, 0, 0]]), 'entry keypoint_colors: has 1 values for 5 keypoints'),
                                            (dict(link_colors=[[0, 0, 0]]), 'entry link_colors: has 1 values for 5 links')])
def test_make_metainfo_checks_its_arguments(kwargs, message):
    with pytest.raises(PoseaiError) as err: make_metainfo(**{**MOUSE, **kwargs})
    assert message in str(err.value)

def test_empty_sigmas_are_allowed():
    assert parse_pose_metainfo(broken(lambda m: m.update(sigmas=[]))).sigmas.shape == (0,)

# --- properties ------------------------------------------------------------------------------------------------------
@given(st.sampled_from(NAMES))
def test_flip_is_an_involution_and_pairs_follow_it(name):
    meta = parse_pose_metainfo(name)
    flip = meta.flip_indices
    assert sorted(flip) == list(range(meta.num_keypoints))
    assert all(flip[flip[i]] == i for i in range(meta.num_keypoints))
    assert meta.flip_pairs == [(j, i) for i, j in enumerate(flip) if j != i]
    assert all((i, j) in meta.flip_pairs for j, i in meta.flip_pairs)

# --- drawing ---------------------------------------------------------------------------------------------------------
def test_draw_skeleton_colours_and_visibility():
    canvas = np.zeros((200, 200, 3), np.uint8)
    rest = COCO_REST_POSE * 180 + [55, 10]
    drawn = draw_skeleton(canvas, rest, 'coco', radius=3)
    assert not canvas.any()
    x, y = rest[9].round().astype(int)
    assert drawn[y, x].tolist() == [0, 255, 0]               # left wrist, green in RGB
    x, y = rest[10].round().astype(int)
    assert drawn[y, x].tolist() == [255, 128, 0]             # right wrist, orange in RGB
    hidden = draw_skeleton(canvas, rest, 'coco', visible=np.arange(17) != 10, radius=3)
    assert not hidden[y, x].any()
    mid = ((rest[8] + rest[10]) / 2).round().astype(int)    # the right forearm is gone with the wrist
    assert drawn[mid[1], mid[0]].any() and not hidden[mid[1], mid[0]].any()

def test_rest_pose_is_symmetric_under_coco_flip():
    flip = parse_pose_metainfo('coco').flip_indices
    np.testing.assert_allclose((COCO_REST_POSE * [-1, 1] + [.5, 0])[flip], COCO_REST_POSE, atol=1e-6)
    assert COCO_REST_POSE.dtype == np.float32 and 0 <= COCO_REST_POSE[:, 0].min() and COCO_REST_POSE[:, 0].max() <= .5
