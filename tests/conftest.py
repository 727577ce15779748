"Test fixtures: files in `tests/data` (in the repository), else in the project's `../shared` folder beside it; seeded tests."
import os
import pytest
from hypothesis import settings
from fixtures import DATA, SHARED, find_data, load_model_arrays

# CI runs the same examples every time (a failure is then reproducible); `HYPOTHESIS_PROFILE=explore` draws fresh ones.
settings.register_profile('ci', derandomize=True)
settings.register_profile('explore', max_examples=500)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))

# What only ../shared (or, for tutorial data, the download cache) holds (paths as for `data_file`), and why a test that needs it is skipped without it
SHARED_ONLY = {
    'lsp': 'Leeds Sports Pose is not here: `poseai data lsp` downloads it (35 MB) from its public address',
    'dlc-openfield': "DeepLabCut's open-field project is not here: `poseai data dlc-openfield` downloads it (27 MB) from DeepLabCut's repository",
    'reference/models/td-hm_hrnet-tiny.pth': "the 9 MB full-size HRNet reference lives in ../shared only; tests/data's td-hm_hrnet-mini covers the same code",
    'reference/models/simcc_res18-tiny.pth': "the 3 MB full-size SimCC reference lives in ../shared only; tests/data's simcc_res18-mini covers the same code",
    'reference/models/rle_res18-tiny.pth': "the 3 MB full-size RLE reference lives in ../shared only; tests/data's rle_res18-mini covers the same code",
}

def data_file(*parts):
    "Path of `parts` (relative to tests/data) in tests/data, else in ../shared; skips the test, saying why, when neither has it."
    path = find_data(*parts)
    if path is None:
        rel = '/'.join(parts)
        pytest.skip(next((why for key, why in SHARED_ONLY.items() if rel.startswith(key)), f'{rel} is neither in tests/data nor in ../shared'))
    return path

@pytest.fixture
def umask():
    "Set the process's umask for one test, and put it back."
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)

@pytest.fixture(autouse=True)
def _seeded():
    "Every test starts from the same random state, so random weights and inputs cannot make a run flaky."
    import random, numpy as np, torch
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
