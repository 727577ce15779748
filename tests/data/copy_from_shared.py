"""Refresh tests/data/{reference,samples,metainfo} from the project's ../shared folder (run from anywhere with numpy).

What a fresh clone needs, within 25 MB: every reference array; of the reference checkpoints only td-hm_res18-tiny.pth (the full-size
HRNet, SimCC and RLE ones stay in ../shared, tests/data/mini_models replaces them); the `input` the four reference models share,
stored once as reference/models/input.npy and left out of their npz files; the annotation files of the sample datasets the tests
load; and only the images and the video a test or notebook reads pixels from. The README.md of each folder is not touched.
"""
import shutil
from pathlib import Path
import numpy as np

DATA = Path(__file__).resolve().parent
SHARED = DATA.parents[2] / 'shared'
IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.mp4'}
SHARED_ONLY_CHECKPOINTS = ['td-hm_hrnet-tiny.pth', 'simcc_res18-tiny.pth', 'rle_res18-tiny.pth']
MODEL_NPZ = ['td-hm_res18-tiny', 'td-hm_hrnet-tiny', 'simcc_res18-tiny', 'rle_res18-tiny']
# sample folders whose annotations the tests load (h36m: the records behind reference/3d/h36m_dataset.npz)
SAMPLE_DATASETS = ['coco', 'halpe', 'aic', 'mhp', 'posetrack18', 'jhmdb', 'onehand10k', 'freihand', 'panoptic', 'rhd', 'interhand2.6m',
                   'wflw', '300w', '300wlp', '300vw', 'cofw', 'aflw', 'lapa', 'animalpose', 'ak', 'atrw', 'horse10', 'fly', 'locust',
                   'zebra', 'fld', 'deepfasion2', 'exlpose', 'humanart', 'mpii', 'h36m']
# the pixels tests and notebooks read: COCO's four images (inference, transforms, pictures), PoseTrack18's 5-frame clip (video
# inference) and one of its frames (tracking), and the images the pictures of 01_metainfo and 02_datasets draw
SAMPLE_MEDIA = ['coco/000000000785.jpg', 'coco/000000040083.jpg', 'coco/000000196141.jpg', 'coco/000000197388.jpg',
                'posetrack18/videos/000001_mpiinew_test/000001_mpiinew_test.mp4', 'posetrack18/images/val/012834_mpii_test/000000.jpg',
                'wflw/36_Football_americanfootball_ball_36_415.jpg', 'onehand10k/9.jpg', 'horse10/0244.png', 'animalpose/ca110.jpeg',
                'freihand/00050180.jpg', 'mpii/005808361.jpg', 'mpii/051423444.jpg', 'mpii/060754485.jpg']

def copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)

def copy_reference():
    src, dst = SHARED / 'reference', DATA / 'reference'
    for f in sorted(src.rglob('*')):
        rel = f.relative_to(src)
        if f.is_dir() or rel.parent.name == 'models' and (f.name in SHARED_ONLY_CHECKPOINTS or f.suffix == '.npz'): continue
        copy(f, dst / rel)
    inputs = [np.load(src / 'models' / f'{name}.npz')['input'] for name in MODEL_NPZ]
    assert all(np.array_equal(x, inputs[0]) for x in inputs), 'the reference models no longer share one input'
    np.save(dst / 'models' / 'input.npy', inputs[0])
    for name in MODEL_NPZ:
        arrays = dict(np.load(src / 'models' / f'{name}.npz'))
        del arrays['input']
        np.savez_compressed(dst / 'models' / f'{name}.npz', **arrays)

def copy_samples():
    src, dst = SHARED / 'data' / 'samples', DATA / 'samples'
    for name in SAMPLE_DATASETS:
        for f in sorted((src / name).rglob('*')):
            if f.is_file() and f.suffix.lower() not in IMAGE_SUFFIXES: copy(f, dst / f.relative_to(src))
    for rel in SAMPLE_MEDIA: copy(src / rel, dst / rel)

def copy_metainfo():
    for f in sorted((SHARED / 'data' / 'metainfo').glob('*.json')): copy(f, DATA / 'metainfo' / f.name)

if __name__ == '__main__':
    copy_reference(); copy_samples(); copy_metainfo()
