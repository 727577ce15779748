"The README's python block runs as written, in an empty folder on the CPU, so it cannot drift from the package; the docs home page (nbs/index.ipynb) says what the README says."
import json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
README = (ROOT/'README.md').read_text()

def python_blocks(markdown): return re.findall(r'```python\n(.*?)```', markdown, re.S)

CHECKS = '''
assert len(train_ds) > 0 and len(valid_ds) > 0 and dls.train.input_size == (96, 128)
assert keypoints.shape == (len(xb), 17, 2) and scores.shape == (len(xb), 17)
assert 'AP' in learn.recorder.metric_names and learn.recorder.values[-1][learn.recorder.metric_names.index('AP') - 1] is not None
assert len(results) == len(bboxes) and results[0]['keypoints'].shape == (17, 2)
assert Path('model.pth').is_file() and Path('models/pose_best.pth').is_file() and Path('models/pose_last.pth').is_file()
import importlib.util
assert Path('pose.onnx').is_file() == (importlib.util.find_spec('onnx') is not None)
print('README ran')
'''

def test_the_readme_runs_as_written(tmp_path):
    "Every python block of the README, one after the other, then checks of what it made (a fresh interpreter, no GPU, an empty folder)."
    blocks = python_blocks(README)
    assert len(blocks) >= 1 and 'SavePoseCheckpoint(monitor=' in blocks[0]
    (tmp_path/'readme.py').write_text('\n'.join(blocks) + CHECKS)
    done = subprocess.run([sys.executable, 'readme.py'], cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == 'README ran'

def test_the_docs_home_page_says_what_the_readme_says():
    "nbs/index.ipynb's text is the README's, its links relative to nbs/."
    index = json.loads((ROOT/'nbs/index.ipynb').read_text())
    text = '\n\n'.join(''.join(c['source']) for c in index['cells'] if c['cell_type'] == 'markdown')
    assert text.strip() == README.replace('](nbs/', '](').strip()
