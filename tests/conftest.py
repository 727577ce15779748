"Shared fixtures: the project's `shared/` folder (reference numbers and data) lives beside the repository."
from pathlib import Path
import pytest

SHARED = Path(__file__).resolve().parents[2] / 'shared'

def shared_file(*parts):
    "Path under `shared/`, skipping the test with a clear reason when it is absent."
    path = SHARED.joinpath(*parts)
    if not path.exists(): pytest.skip(f'{path} is absent: these tests need the shared/ folder beside the repository')
    return path
