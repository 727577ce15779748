"HRNet: shapes, MMPose model-zoo parameter names and shapes, and parity with MMPose's outputs on small checkpoints."
import json, pytest
import numpy as np, torch, torch.nn as nn
from conftest import data_file, load_model_arrays
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import count_flops
from poseai.hrnet import HRNet, HRNET_W32, hrnet_extra

def test_w32_shape():
    net = MODELS.build(dict(type='HRNet', extra=HRNET_W32)).eval()
    with torch.no_grad(): out = net(torch.randn(1, 3, 256, 192))
    print('HRNet-W32 params:', sum(p.numel() for p in net.parameters()))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(1, 32, 64, 48)]

def test_multiscale_output():
    net = HRNet(hrnet_extra(8, multiscale_output=True)).eval()
    with torch.no_grad(): out = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in out] == [(1, 8 * 2**i, 16 // 2**i, 16 // 2**i) for i in range(4)]

def test_w32_model_zoo_state_dict():
    shapes = json.loads(data_file('reference', 'models', 'model_zoo_state_dict_shapes.json').read_text())['td-hm_hrnet-w32_coco-256x192']
    zoo = {k[len('backbone.'):]: list(v) for k, v in shapes.items() if k.startswith('backbone.')}
    ours = {k: list(v.shape) for k, v in HRNet(HRNET_W32).state_dict().items()}
    assert list(ours) == list(zoo)
    assert ours == zoo

# MMPose's HRNet checkpoints with their arrays: the full-size reference (W32 layout at widths 8..64, in ../shared only) and
# tests/data's mini one (one block per branch, widths 4..32: the same code)
HRNETS = {'td-hm_hrnet-tiny': ('reference', 'models'), 'td-hm_hrnet-mini': ('mini_models',)}

def reference_hrnet(name):
    "The MMPose checkpoint's HRNet `extra`, head width, state dict and arrays."
    folder = HRNETS[name]
    sd = torch.load(data_file(*folder, f'{name}.pth'), map_location='cpu', weights_only=False)['state_dict']
    cfg = json.loads(data_file(*folder, 'MANIFEST.json').read_text())['models'][name]['config']
    return cfg['backbone']['extra'], cfg['head']['in_channels'], sd, load_model_arrays(data_file(*folder, f'{name}.npz'))

def head_of(sd, width):
    "The 1x1 conv from HRNet's highest-resolution branch to 17 heatmaps, with the checkpoint's weights."
    head = nn.Conv2d(width, 17, 1)
    head.load_state_dict({'weight': sd['head.final_layer.weight'], 'bias': sd['head.final_layer.bias']}, strict=True)
    return head

@pytest.mark.parametrize('name', HRNETS)
def test_checkpoint_heatmaps_match_mmpose(name):
    extra, width, sd, arrays = reference_hrnet(name)
    net = HRNet(extra)
    net.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}, strict=True)
    net.eval()
    with torch.no_grad(): heatmaps = head_of(sd, width)(net(torch.from_numpy(arrays['input']).float())[-1]).numpy()
    assert heatmaps.shape == arrays['heatmaps'].shape
    np.testing.assert_allclose(heatmaps, arrays['heatmaps'], atol=1e-4, rtol=0)

def test_frozen_stages_and_norm_eval():
    net = HRNet(hrnet_extra(8), frozen_stages=2, norm_eval=True).train()
    assert not any(p.requires_grad for m in (net.conv1, net.layer1, net.transition1, net.stage2) for p in m.parameters())
    assert all(p.requires_grad for p in net.stage3.parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))

@pytest.mark.parametrize('name', HRNETS)
def test_init_cfg_loads_the_checkpoint_at_construction(name):
    extra, width, sd, arrays = reference_hrnet(name)
    path = data_file(*HRNETS[name], f'{name}.pth')
    net = MODELS.build(dict(type='HRNet', extra=extra, init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))).eval()
    assert all(torch.equal(v, sd[f'backbone.{k}']) for k, v in net.state_dict().items())
    with torch.no_grad(): heatmaps = head_of(sd, width)(net(torch.from_numpy(arrays['input']).float())[0]).numpy()
    np.testing.assert_allclose(heatmaps, arrays['heatmaps'], atol=1e-4, rtol=0)
    wider = {k: dict(v, num_channels=[2 * c for c in v['num_channels']]) if k != 'stage1' else v for k, v in extra.items()}
    with pytest.raises(PoseaiError, match='mismatched'):    # the same layout at twice the widths does not fit the weights
        HRNet(wider, init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises(PoseaiError, match='init_cfg'): HRNet(extra, init_cfg=dict(type='Normal', std=0.01))

def test_default_init_is_mmposes():
    net = HRNet(hrnet_extra(8))
    w = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d)])
    assert abs(w.std().item() - 0.001) < 1e-4 and all((m.weight == 1).all() for m in net.modules() if isinstance(m, nn.BatchNorm2d))

def test_flops_match_mmposes_counter():
    # mmengine.analysis.FlopAnalyzer on MMPose 1.3.2's HRNet-W32 at 1x3x256x192 counts 7643332608 MACs in its convs
    assert count_flops(HRNet(HRNET_W32)) == 7643332608
