"Where tests and notebooks find their data: `tests/data` (in the repository) first, the project's `../shared` folder beside it second."
from pathlib import Path
import numpy as np

DATA = Path(__file__).resolve().parent / 'data'
SHARED = Path(__file__).resolve().parents[2] / 'shared'

def find_data(*parts):
    "The path of `parts` (relative to tests/data: 'reference/...', 'samples/...', 'metainfo', ...) in tests/data, else in ../shared, else None."
    rel = Path(*parts)
    in_shared = SHARED / rel if rel.parts[0] == 'reference' else SHARED / 'data' / rel   # ../shared keeps samples and metainfo under data/
    return next((path for path in (DATA / rel, in_shared) if path.exists()), None)

def load_model_arrays(npz):
    "A reference model's arrays from `npz`, with the `input` all reference models share (tests/data keeps it once: reference/models/input.npy)."
    arrays = dict(np.load(npz))
    if 'input' not in arrays: arrays['input'] = np.load(DATA / 'reference' / 'models' / 'input.npy')
    return arrays
