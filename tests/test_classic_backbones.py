"Classic backbones (VGG, AlexNet, CPM, HourglassNet): shapes, parameter counts and state dict names against MMPose 1.3.2, checkpoint loading."
import pytest, torch, torch.nn as nn
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import ConvModule, LoadReport, load_checkpoint
from poseai.classic_backbones import *

X = torch.randn(1, 3, 256, 192)
XSQ = torch.randn(1, 3, 256, 256)
SMALL_HG = dict(downsample_times=3, num_stacks=2, stage_channels=(256, 128, 128, 128), stage_blocks=(1, 1, 1, 2), feat_channel=64)

def n_params(m): return sum(p.numel() for p in m.parameters())

# Parameter counts measured by building MMPose 1.3.2's backbones (mmpose.models.backbones) in its own venv and
# summing p.numel() over .parameters(); in the same runs their state_dict names, shapes and order equalled ours
# and, with MMPose's weights loaded into ours, so did the outputs (max abs difference 0).
MMPOSE_PARAMS = {
    'VGG-11': (dict(type='VGG', depth=11), 9220480),
    'VGG-13': (dict(type='VGG', depth=13), 9404992),
    'VGG-16': (dict(type='VGG', depth=16), 14714688),
    'VGG-19': (dict(type='VGG', depth=19), 20024384),
    'VGG-11-BN': (dict(type='VGG', depth=11, norm_cfg=dict(type='BN')), 9225984),
    'VGG-13-BN': (dict(type='VGG', depth=13, norm_cfg=dict(type='BN')), 9410880),
    'VGG-16-BN': (dict(type='VGG', depth=16, norm_cfg=dict(type='BN')), 14723136),
    'VGG-19-BN': (dict(type='VGG', depth=19, norm_cfg=dict(type='BN')), 20035392),
    'VGG-11-cls10': (dict(type='VGG', depth=11, num_classes=10), 128807306),
    'AlexNet': (dict(type='AlexNet'), 2469696),
    'CPM': (dict(type='CPM', in_channels=3, out_channels=17), 31304166),
    'CPM-small': (dict(type='CPM', in_channels=3, out_channels=17, feat_channels=64, middle_channels=16, num_stages=3), 9682099),
    'HourglassNet': (dict(type='HourglassNet'), 187700352),
    'HourglassNet-1stack': (dict(type='HourglassNet', num_stacks=1), 94843520),
    'HourglassNet-small': (dict(type='HourglassNet', **SMALL_HG), 12441472),
}

@pytest.mark.parametrize('name', MMPOSE_PARAMS)
def test_param_counts_match_mmpose(name):
    cfg, n = MMPOSE_PARAMS[name]
    assert n_params(MODELS.build(cfg)) == n

@pytest.mark.parametrize('depth', [11, 13, 16, 19])
@pytest.mark.parametrize('norm', [None, dict(type='BN')])
def test_vgg_shapes_and_names(depth, norm):
    m = VGG(depth, norm_cfg=norm, out_indices=(0, 1, 2, 3, 4)).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(1, 64, 128, 96), (1, 128, 64, 48), (1, 256, 32, 24), (1, 512, 16, 12), (1, 512, 8, 6)]
    convs = [k for k in m.state_dict() if k.endswith('conv.weight')]
    assert len(convs) == depth - 3 and convs[0] == 'features.0.conv.weight'
    assert ('features.0.bn.running_var' in m.state_dict()) == (norm is not None)
    assert 'features.0.conv.bias' in m.state_dict()     # MMPose's VGG keeps conv biases, even with BN

def test_vgg_options():
    assert len(VGG(11).eval()(X)) == 1                                  # default: the last stage
    assert VGG(11, with_last_pool=False).eval()(X)[0].shape == (1, 512, 16, 12)
    assert VGG(11, num_classes=10).eval()(torch.randn(1, 3, 224, 224))[0].shape == (1, 10)
    assert VGG(11, num_stages=3, dilations=(1, 1, 2), out_indices=(2,)).eval()(X)[0].shape == (1, 256, 32, 24)
    m = VGG(11, frozen_stages=2, norm_cfg=dict(type='BN'), norm_eval=True).train()
    assert {n.split('.')[1] for n, p in m.named_parameters() if not p.requires_grad} == {'0', '2'}
    assert all(not b.training for b in m.modules() if isinstance(b, nn.BatchNorm2d))
    with pytest.raises(PoseaiError): VGG(12)
    with pytest.raises(PoseaiError): VGG(11, out_indices=(6,))
    with pytest.raises(PoseaiError): VGG(11, act_cfg=dict(type='NoSuchActivation'))

def test_alexnet():
    m = AlexNet().eval()
    assert m(X)[0].shape == (1, 256, 7, 5)
    assert list(m.state_dict()) == [f'features.{i}.{w}' for i in (0, 3, 6, 8, 10) for w in ('weight', 'bias')]

def test_cpm():
    m = MODELS.build(dict(type='CPM', in_channels=3, out_channels=17, num_stages=3)).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, 17, 32, 24)] * 3
    sd = m.state_dict()
    for k in ('stem.0.conv.weight', 'stem.9.conv.bias', 'middle.4.bn.running_mean', 'cpm_stages.1.model.2.bn.weight',
              'middle_conv.1.0.conv.weight', 'out_convs.1.0.bn.bias', 'out_convs.1.1.conv.bias'):
        assert k in sd, k
    assert sd['cpm_stages.0.model.0.conv.weight'].shape == (128, 32 + 17, 11, 11)
    with pytest.raises(PoseaiError): CPM(1, 17)

def test_hourglass():
    m = MODELS.build(dict(type='HourglassNet', **SMALL_HG)).eval()
    with torch.no_grad(): outs = m(XSQ)
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, 64, 64, 64)] * 2
    sd = m.state_dict()
    for k in ('stem.0.conv.weight', 'stem.1.0.downsample.0.weight', 'hourglass_modules.0.low2.low2.low2.1.bn2.weight',
              'hourglass_modules.1.low3.0.downsample.1.running_var', 'inters.0.conv1.weight', 'conv1x1s.0.bn.weight',
              'out_convs.1.conv.weight', 'remap_convs.0.bn.bias'):
        assert k in sd, k
    one = HourglassNet(**{**SMALL_HG, 'num_stacks': 1}).eval()
    assert len(one(XSQ)) == 1
    with pytest.raises(PoseaiError): HourglassNet(downsample_times=6)

def test_hourglass_default_forward():
    with torch.no_grad(): outs = HourglassNet(num_stacks=1).eval()(XSQ)
    assert [tuple(o.shape) for o in outs] == [(1, 256, 64, 64)]

ROUND_TRIP = {'VGG': (dict(type='VGG', depth=11, norm_cfg=dict(type='BN')), dict(type='VGG', depth=13, norm_cfg=dict(type='BN'))),
              'AlexNet': (dict(type='AlexNet'), dict(type='VGG', depth=11)),
              'CPM': (dict(type='CPM', in_channels=3, out_channels=17, num_stages=2), dict(type='CPM', in_channels=3, out_channels=16, num_stages=2)),
              'HourglassNet': (dict(type='HourglassNet', **SMALL_HG), dict(type='HourglassNet', **{**SMALL_HG, 'num_stacks': 1}))}

@pytest.mark.parametrize('name', ROUND_TRIP)
def test_state_dict_round_trip_and_wrong_architecture(name, tmp_path):
    cfg, other = ROUND_TRIP[name]
    src, dst = MODELS.build(cfg).eval(), MODELS.build(cfg).eval()
    for k, v in src.state_dict().items():                 # make every entry, BN statistics included, differ from dst's
        if v.is_floating_point(): v.uniform_(0.5, 1.5)
    path = tmp_path/'ckpt.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, path)
    assert load_checkpoint(dst, path, prefix='backbone.') == LoadReport([], [], [])
    x = XSQ[..., :128, :128] if name == 'HourglassNet' else X
    with torch.no_grad(): assert all(torch.equal(a, b) for a, b in zip(src(x), dst(x)))
    built = MODELS.build({**cfg, 'init_cfg': dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')})
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), src.state_dict().values()))
    with pytest.raises(PoseaiError): load_checkpoint(MODELS.build(other), path, prefix='backbone.')

def test_conv_module_extras():
    m = ConvModule(3, 8, 3, dilation=2, bias=True, norm_cfg=dict(type='BN'))
    assert [k for k in m.state_dict() if 'running' not in k and 'batches' not in k] == ['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias']
    assert m.conv.dilation == (2, 2) and m(torch.randn(1, 3, 10, 10)).shape == (1, 8, 10, 10)
    assert (ConvModule(3, 8, 3, act_cfg=None)(-torch.ones(1, 3, 4, 4)) < 0).any()

def test_default_init_is_mmposes():
    cpm = CPM(3, 17, num_stages=2)
    assert abs(cpm.stem[0].conv.weight.std().item() - 0.001) < 2e-4 and cpm.stem[0].bn.weight.eq(1).all()
    vgg = VGG(11)
    w = vgg.features[0].conv.weight                        # Kaiming normal, fan_out: std sqrt(2 / (64 * 9))
    assert abs(w.std().item() - (2 / (64 * 9))**0.5) < 0.01 and vgg.features[0].conv.bias.eq(0).all()
    with pytest.raises(PoseaiError): VGG(11, init_cfg=dict(type='Kaiming'))
