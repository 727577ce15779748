"Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmpose_multistage.npz: outputs of small MSPN, RSN and LiteHRNet backbones whose weights `fill_weights` draws with numpy."
from pathlib import Path
import numpy as np, torch

LITE_SMALL = dict(stem=dict(stem_channels=16, out_channels=24, expand_ratio=2), num_stages=3, with_head=True,
                  stages_spec=dict(num_modules=(1, 2, 1), num_branches=(2, 3, 4), num_blocks=(1, 2, 1), module_type=('NAIVE', 'LITE', 'NAIVE'),
                                   with_fuse=(True, False, True), reduce_ratios=(4, 8, 8), num_channels=((16, 32), (16, 32, 64), (16, 32, 64, 128))))
CONFIGS = {'mspn': dict(type='MSPN', unit_channels=8, num_stages=2, num_units=2, num_blocks=[1, 1]),
           'rsn': dict(type='RSN', unit_channels=8, num_stages=2, num_units=2, num_blocks=[1, 1], num_steps=2),
           'litehrnet': dict(type='LiteHRNet', extra=LITE_SMALL)}

def fill_weights(model, seed=0):
    "Draw every float entry of `model`'s state dict, in order, from numpy: convs N(0, 1/fan_in), norms near identity with random statistics."
    rng = np.random.default_rng(seed)
    for k, v in model.state_dict().items():
        if not v.dtype.is_floating_point: continue
        if v.dim() > 1: w = rng.normal(0, (1 / v[0].numel()) ** 0.5, v.shape)
        elif k.endswith(('running_var', 'weight')): w = rng.uniform(0.5, 1.0, v.shape)
        else: w = rng.normal(0, 0.1, v.shape)
        v.copy_(torch.from_numpy(w.astype(np.float32)))
    model.eval()
    return model

def flat(o): return [t for v in o for t in flat(v)] if isinstance(o, (list, tuple)) else [o]

if __name__ == '__main__':   # the tests import CONFIGS and fill_weights without MMPose
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules
    register_all_modules()
    x = np.random.default_rng(1).normal(size=(1, 3, 64, 64)).astype(np.float32)
    out = dict(x=x)
    for name, cfg in CONFIGS.items():
        with torch.no_grad(): ys = flat(fill_weights(MODELS.build(cfg))(torch.from_numpy(x)))
        for i, y in enumerate(ys): out[f'{name}_{i}'] = y.numpy()
    np.savez_compressed(Path(__file__).with_name('mmpose_multistage.npz'), **out)
