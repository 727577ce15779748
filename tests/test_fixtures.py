"The fixtures in tests/data: small enough to ship, found before ../shared, and the reference models' shared input put back."
import numpy as np
from conftest import DATA, SHARED, data_file, find_data, load_model_arrays

def test_tests_data_is_at_most_25_mb():
    "A clone stays light: tests/data (apparent bytes, as `du -sb`) holds at most 25 MB."
    size = sum(p.lstat().st_size for p in DATA.rglob('*')) + DATA.lstat().st_size
    assert size <= 25_000_000, f'tests/data holds {size / 1e6:.1f} MB, more than 25 MB'

def test_lookup_prefers_tests_data_and_maps_shared_layout(tmp_path, monkeypatch):
    monkeypatch.delenv('POSEAI_DATA', raising=False); monkeypatch.setenv('POSEAI_CACHE', str(tmp_path))   # no copy of the user's, an empty cache
    assert find_data('reference', 'bbox.npz') == DATA / 'reference' / 'bbox.npz'
    assert find_data('samples', 'coco', 'test_coco.json') == DATA / 'samples' / 'coco' / 'test_coco.json'
    assert find_data('samples', 'no-such-dataset') is None
    if (SHARED / 'data' / 'lsp').exists(): assert find_data('lsp') == SHARED / 'data' / 'lsp'   # ../shared keeps data sets under data/
    else: assert find_data('lsp') is None

def test_model_arrays_get_the_shared_input_back():
    arrays = load_model_arrays(data_file('reference', 'models', 'td-hm_res18-tiny.npz'))
    assert 'input' not in np.load(data_file('reference', 'models', 'td-hm_res18-tiny.npz'))
    assert arrays['input'].shape == (2, 3, 256, 192) and arrays['heatmaps'].shape == (2, 17, 64, 48)
    full = SHARED / 'reference' / 'models' / 'td-hm_res18-tiny.npz'
    if full.exists():   # the copy in tests/data is the shared file less its input, every array unchanged
        ref = dict(np.load(full))
        assert ref.keys() == arrays.keys() and all(np.array_equal(ref[k], arrays[k]) for k in ref)
