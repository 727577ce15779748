"HRNet: shapes, MMPose model-zoo parameter names and shapes, and parity with MMPose's outputs on the tiny checkpoint."
import json, pytest
import numpy as np, torch, torch.nn as nn
from conftest import shared_file
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
    shapes = json.loads(shared_file('reference', 'models', 'model_zoo_state_dict_shapes.json').read_text())['td-hm_hrnet-w32_coco-256x192']
    zoo = {k[len('backbone.'):]: list(v) for k, v in shapes.items() if k.startswith('backbone.')}
    ours = {k: list(v.shape) for k, v in HRNet(HRNET_W32).state_dict().items()}
    assert list(ours) == list(zoo)
    assert ours == zoo

def _tiny():
    "The tiny MMPose checkpoint's state dict and arrays."
    sd = torch.load(shared_file('reference', 'models', 'td-hm_hrnet-tiny.pth'), map_location='cpu', weights_only=False)['state_dict']
    return sd, np.load(shared_file('reference', 'models', 'td-hm_hrnet-tiny.npz'))

def test_tiny_checkpoint_heatmaps_match_mmpose():
    sd, arrays = _tiny()
    net = HRNet(hrnet_extra(8))
    net.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}, strict=True)
    head = nn.Conv2d(8, 17, 1)
    head.load_state_dict({'weight': sd['head.final_layer.weight'], 'bias': sd['head.final_layer.bias']}, strict=True)
    net.eval()
    with torch.no_grad(): heatmaps = head(net(torch.from_numpy(arrays['input']).float())[-1]).numpy()
    assert heatmaps.shape == arrays['heatmaps'].shape
    np.testing.assert_allclose(heatmaps, arrays['heatmaps'], atol=1e-4, rtol=0)

def test_frozen_stages_and_norm_eval():
    net = HRNet(hrnet_extra(8), frozen_stages=2, norm_eval=True).train()
    assert not any(p.requires_grad for m in (net.conv1, net.layer1, net.transition1, net.stage2) for p in m.parameters())
    assert all(p.requires_grad for p in net.stage3.parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))

def test_init_cfg_loads_the_tiny_checkpoint_at_construction():
    sd, arrays = _tiny()
    path = shared_file('reference', 'models', 'td-hm_hrnet-tiny.pth')
    net = MODELS.build(dict(type='HRNet', extra=hrnet_extra(8), init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))).eval()
    assert all(torch.equal(v, sd[f'backbone.{k}']) for k, v in net.state_dict().items())
    head = nn.Conv2d(8, 17, 1)
    head.load_state_dict({'weight': sd['head.final_layer.weight'], 'bias': sd['head.final_layer.bias']})
    with torch.no_grad(): heatmaps = head(net(torch.from_numpy(arrays['input']).float())[0]).numpy()
    np.testing.assert_allclose(heatmaps, arrays['heatmaps'], atol=1e-4, rtol=0)
    with pytest.raises(PoseaiError, match='mismatched'):    # W32 layout at widths 16..128 does not fit the width-8 weights
        HRNet(hrnet_extra(16), init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    with pytest.raises(PoseaiError, match='init_cfg'): HRNet(hrnet_extra(8), init_cfg=dict(type='Normal', std=0.01))

def test_default_init_is_mmposes():
    net = HRNet(hrnet_extra(8))
    w = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d)])
    assert abs(w.std().item() - 0.001) < 1e-4 and all((m.weight == 1).all() for m in net.modules() if isinstance(m, nn.BatchNorm2d))

def test_flops_match_mmposes_counter():
    # mmengine.analysis.FlopAnalyzer on MMPose 1.3.2's HRNet-W32 at 1x3x256x192 counts 7643332608 MACs in its convs
    assert count_flops(HRNet(HRNET_W32)) == 7643332608
