"Shared fixtures: the project's `shared/` folder (reference numbers and data) lives beside the repository."
import os
from pathlib import Path
import pytest
from hypothesis import settings

# CI runs the same examples every time (a failure is then reproducible); `HYPOTHESIS_PROFILE=explore` draws fresh ones.
settings.register_profile('ci', derandomize=True)
settings.register_profile('explore', max_examples=500)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))

SHARED = Path(__file__).resolve().parents[2] / 'shared'

def shared_file(*parts):
    "Path under `shared/`, skipping the test with a clear reason when it is absent."
    path = SHARED.joinpath(*parts)
    if not path.exists(): pytest.skip(f'{path} is absent: these tests need the shared/ folder beside the repository')
    return path

@pytest.fixture(autouse=True)
def _seeded():
    "Every test starts from the same random state, so random weights and inputs cannot make a run flaky."
    import random, numpy as np, torch
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
