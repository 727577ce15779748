"Where tests and notebooks find their data: `tests/data` (in the repository) first, the project's `../shared` folder beside it second."
from pathlib import Path
import numpy as np
from poseai.data.download import TUTORIAL_DATA, find_tutorial_data

DATA = Path(__file__).resolve().parent / 'data'
SHARED = Path(__file__).resolve().parents[2] / 'shared'

def find_data(*parts):
    "The path of `parts` (relative to tests/data: 'reference/...', 'samples/...', 'metainfo', ...) in tests/data, else in ../shared, else None; a tutorial dataset ('lsp') wherever `tutorial_data` finds it."
    if len(parts) == 1 and parts[0] in TUTORIAL_DATA: return find_tutorial_data(parts[0])   # $POSEAI_DATA, ../shared/data or the download cache
    rel = Path(*parts)
    in_shared = SHARED / rel if rel.parts[0] == 'reference' else SHARED / 'data' / rel   # ../shared keeps samples and metainfo under data/
    return next((path for path in (DATA / rel, in_shared) if path.exists()), None)

def load_model_arrays(npz):
    "A reference model's arrays from `npz`, with the `input` all reference models share (tests/data keeps it once: reference/models/input.npy)."
    arrays = dict(np.load(npz))
    if 'input' not in arrays: arrays['input'] = np.load(DATA / 'reference' / 'models' / 'input.npy')
    return arrays
