"Notebooks are the source: the committed package must be what `nbdev-export` makes of them, and notebooks must be clean."
import filecmp, shutil, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def copy(tmp_path_factory):
    "A scratch copy of the project's config, notebooks and package."
    dest = tmp_path_factory.mktemp('project')
    shutil.copy(ROOT/'pyproject.toml', dest)
    for d in ('nbs', 'poseai'): shutil.copytree(ROOT/d, dest/d, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
    return dest

def changed_files(a, b, pattern):
    "Relative paths matching `pattern` that differ between folders `a` and `b` or exist in only one."
    names = {p.relative_to(a) for p in a.rglob(pattern)} | {p.relative_to(b) for p in b.rglob(pattern)}
    return sorted(str(n) for n in names if not ((a/n).exists() and (b/n).exists() and filecmp.cmp(a/n, b/n, shallow=False)))

def test_package_is_exported_from_notebooks(copy):
    subprocess.run(['nbdev-export'], cwd=copy, check=True, capture_output=True)
    stale = changed_files(ROOT/'poseai', copy/'poseai', '*.py')
    assert not stale, f'poseai/ differs from what nbdev-export makes of nbs/ (run nbdev-export, never edit poseai/*.py): {stale}'

def test_notebooks_are_clean(copy):
    subprocess.run(['nbdev-clean'], cwd=copy, check=True, capture_output=True)
    dirty = changed_files(ROOT/'nbs', copy/'nbs', '*.ipynb')
    assert not dirty, f'notebooks are not nbdev-clean (run nbdev-clean and commit): {dirty}'
