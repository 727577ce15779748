"Run with MMPose 1.3.2's python (shared/peer/install_mmpose.sh) to remake mmcv_conv_module.npz: MMCV's ConvModule with every activation poseai knows, random weights, inputs and outputs."
import json, numpy as np, torch
from pathlib import Path
from mmcv.cnn import ConvModule
torch.manual_seed(0)
ACTS = [dict(type='ReLU'), dict(type='ReLU6'), dict(type='LeakyReLU', negative_slope=0.1), dict(type='PReLU'), dict(type='Sigmoid'), dict(type='HSwish'),
        dict(type='HSigmoid', bias=1.0, divisor=2.0), dict(type='Swish'), dict(type='SiLU'), dict(type='GELU'), dict(type='ELU'), dict(type='Tanh'), None]
out = {}
for i, act in enumerate(ACTS):
    kw = dict(in_channels=4, out_channels=4, kernel_size=[1, 3, 5][i % 3], stride=[1, 2][i % 2], dilation=[1, 2][(i // 2) % 2], groups=[1, 2, 4][i % 3],
              norm_cfg=[None, dict(type='BN')][i % 2], act_cfg=act, bias=['auto', True, False][(i // 3) % 3])
    kw['padding'] = kw['dilation'] * (kw['kernel_size'] - 1) // 2      # poseai's default padding, given explicitly to MMCV
    m = ConvModule(**kw); m.eval()
    for k, v in m.state_dict().items():
        if v.is_floating_point(): v.uniform_(0.5, 1.5) if 'running_var' in k else v.normal_(0, 0.3)
    x = torch.randn(1, 4, 9, 7)
    with torch.no_grad(): y = m(x.clone())
    out[f'{i}/kwargs'] = np.array(json.dumps(kw))
    out[f'{i}/keys'] = np.array(list(m.state_dict()))
    out.update({f'{i}/sd/{k}': v.numpy() for k, v in m.state_dict().items()})
    out[f'{i}/x'], out[f'{i}/y'] = x.numpy(), y.numpy()
np.savez_compressed(Path(__file__).with_name('mmcv_conv_module.npz'), **out)
