"ResNet backbones: shapes and parameter counts against torchvision, state dict names against MMPose's model zoo, checkpoint loading, freezing."
import json, pytest, torch, torch.nn as nn, torchvision
import numpy as np
from pathlib import Path
from conftest import data_file
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import *

X = torch.randn(1, 3, 256, 192)
WIDTHS = {18: (64, 128, 256, 512), 34: (64, 128, 256, 512), 50: (256, 512, 1024, 2048), 101: (256, 512, 1024, 2048), 152: (256, 512, 1024, 2048)}
# MMPose checkpoints with a ResNet-18 backbone: (folder, stem_channels, base_channels); the full-size SimCC and RLE ones are in ../shared only
RESNET18_CHECKPOINTS = {'td-hm_res18-tiny': (('reference', 'models'), 16, 16), 'simcc_res18-tiny': (('reference', 'models'), 16, 16),
                        'rle_res18-tiny': (('reference', 'models'), 16, 16), 'simcc_res18-mini': (('mini_models',), 8, 4),
                        'rle_res18-mini': (('mini_models',), 8, 4)}

def n_params(m): return sum(p.numel() for p in m.parameters())

@pytest.mark.parametrize('depth', WIDTHS)
def test_depths_shapes_and_param_counts(depth):
    m = MODELS.build(dict(type='ResNet', depth=depth, out_indices=(0, 1, 2, 3))).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(1, c, 256 // s, 192 // s) for c, s in zip(WIDTHS[depth], (4, 8, 16, 32))]
    tv = getattr(torchvision.models, f'resnet{depth}')()
    print(f'ResNet-{depth}: {n_params(m)} parameters')
    assert n_params(m) == n_params(tv) - n_params(tv.fc)
    assert list(m.state_dict()) == [k for k in tv.state_dict() if not k.startswith('fc.')]

def test_default_out_indices_is_last_stage():
    outs = ResNet(18).eval()(torch.randn(1, 3, 64, 64))
    assert len(outs) == 1 and outs[0].shape == (1, 512, 2, 2)

@pytest.mark.parametrize('name', ['td-hm_res50_coco-256x192', 'simcc_res50_coco-256x192', 'rle_res50_coco-256x192'])
def test_model_zoo_names_and_shapes(name):
    zoo = json.loads(data_file('reference', 'models', 'model_zoo_state_dict_shapes.json').read_text())[name]
    want = {k[len('backbone.'):]: v for k, v in zoo.items() if k.startswith('backbone.')}
    got = {k: list(v.shape) for k, v in ResNet(50).state_dict().items()}
    assert got == want and list(got) == list(want)    # same names, shapes and order

@pytest.mark.parametrize('name', RESNET18_CHECKPOINTS)
def test_mmpose_checkpoints_load_strict(name):
    folder, stem, base = RESNET18_CHECKPOINTS[name]
    path = data_file(*folder, f'{name}.pth')
    m = ResNet(18, stem_channels=stem, base_channels=base)
    assert load_checkpoint(m, path, prefix='backbone.') == LoadReport([], [], [])
    sd = torch.load(path, weights_only=True)['state_dict']
    assert torch.equal(m.layer4[1].conv2.weight, sd['backbone.layer4.1.conv2.weight'])
    built = MODELS.build(dict(type='ResNet', depth=18, stem_channels=stem, base_channels=base, init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')))
    assert torch.equal(built.bn1.running_var, sd['backbone.bn1.running_var'])

@pytest.mark.parametrize('depth', [18, 50])
def test_torchvision_weights_give_torchvision_features(depth, tmp_path):
    tv = getattr(torchvision.models, f'resnet{depth}')().eval()
    for m in tv.modules():    # non-trivial BN statistics, so a misplaced norm would show
        if isinstance(m, nn.BatchNorm2d): m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5); nn.init.uniform_(m.weight, 0.5, 1.5)
    torch.save(tv.state_dict(), tmp_path / 'tv.pth')
    ours = ResNet(depth, out_indices=(3,)).eval()
    assert load_checkpoint(ours, tmp_path / 'tv.pth') == LoadReport([], [], [])
    with torch.no_grad(): torch.testing.assert_close(ours(X)[0], nn.Sequential(*list(tv.children())[:-2])(X), rtol=1e-4, atol=1e-5)

def test_mmpose_checkpoint_dict_and_plain_state_dict():
    src = ResNet(18).eval()
    for ckpt, prefix in [({'meta': {}, 'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, 'backbone.'), (src.state_dict(), None)]:
        dst = ResNet(18).eval()
        load_checkpoint(dst, ckpt, prefix=prefix)
        with torch.no_grad(): assert torch.equal(dst(X)[0], src(X)[0])

def test_wrong_architecture_raises():
    path = data_file('reference', 'models', 'td-hm_res18-tiny.pth')
    with pytest.raises(PoseaiError) as e: load_checkpoint(ResNet(50), path, prefix='backbone.')
    assert all(s in str(e.value) for s in ('198 missing', 'mismatched', 'layer1.0.conv3.weight', 'conv1.weight (16, 3, 7, 7) vs model (64, 3, 7, 7)', 'td-hm_res18-tiny.pth'))
    with pytest.raises(PoseaiError, match=r'unexpected \(layer1\.0\.conv3\.weight'): load_checkpoint(ResNet(18), ResNet(50).state_dict())
    with pytest.raises(PoseaiError, match='mismatched'): load_checkpoint(ResNet(18), path, prefix='backbone.')
    report = load_checkpoint(ResNet(18), path, prefix='backbone.', strict=False)
    assert report.mismatched and not report.missing and not report.unexpected
    with pytest.raises(PoseaiError, match='no keys start with'): load_checkpoint(ResNet(18), path, prefix='neck.')

def test_missing_files_say_where():
    with pytest.raises(PoseaiError, match='not found'): load_checkpoint(ResNet(18), '/nonexistent/x.pth')
    with pytest.raises(PoseaiError, match='never downloads'): resolve_checkpoint('torchvision://resnet_no_such_arch')

def test_torchvision_scheme_resolves_from_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    (tmp_path / 'checkpoints').mkdir()
    tv = torchvision.models.resnet18()
    torch.save(tv.state_dict(), tmp_path / 'checkpoints' / 'resnet18-f37072fd.pth')
    m = ResNet(18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
    assert torch.equal(m.layer3[0].downsample[0].weight, tv.layer3[0].downsample[0].weight)

def test_frozen_stages_and_norm_eval():
    m = ResNet(50, frozen_stages=2).train()
    frozen = {n.split('.')[0] for n, p in m.named_parameters() if not p.requires_grad}
    assert frozen == {'conv1', 'bn1', 'layer1', 'layer2'}
    assert not m.bn1.training and not m.layer2.training and m.layer3.training and m.layer3[0].bn1.training
    m = ResNet(18, norm_eval=True).train()
    assert all(not b.training for b in m.modules() if isinstance(b, nn.BatchNorm2d)) and m.layer1[0].conv1.weight.requires_grad
    v1d = ResNetV1d(depth=18, frozen_stages=0).train()
    assert all(not p.requires_grad for p in v1d.stem.parameters()) and not v1d.stem.training

def test_frozen_stats_do_not_move():
    m = ResNet(18, frozen_stages=1).train()
    before = m.layer1[0].bn1.running_mean.clone()
    m(torch.randn(2, 3, 64, 64) * 5 + 3)
    assert torch.equal(before, m.layer1[0].bn1.running_mean)

def test_with_cp_same_output_and_grads():
    torch.manual_seed(0); a = ResNet(18, with_cp=True).eval()
    b = ResNet(18).eval(); b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    ya, yb = a(x)[0], b(x)[0]
    torch.testing.assert_close(ya, yb)
    ya.sum().backward(); yb.sum().backward()
    torch.testing.assert_close(a.conv1.weight.grad, b.conv1.weight.grad)

def test_init_matches_mmpose_conventions():
    m = ResNet(50)
    assert all((blk.bn3.weight == 0).all() for layer in (m.layer1, m.layer4) for blk in layer)
    assert (m.bn1.weight == 1).all() and (ResNet(18, zero_init_residual=False).layer1[0].bn2.weight == 1).all()

def test_v1d_names_and_caffe_style():
    v1d = MODELS.build(dict(type='ResNetV1d', depth=50))
    keys = v1d.state_dict()
    assert 'stem.2.bn.running_var' in keys and 'conv1.weight' not in keys and 'layer2.0.downsample.2.weight' in keys
    assert isinstance(v1d.layer2[0].downsample[0], nn.AvgPool2d)
    caffe = ResNet(50, style='caffe')
    assert caffe.layer2[0].conv1.stride == (2, 2) and caffe.layer2[0].conv2.stride == (1, 1)
    assert ResNet(50).layer2[0].conv2.stride == (2, 2)

def test_bad_arguments():
    for cfg in [dict(depth=20), dict(depth=18, out_indices=(4,)), dict(depth=18, norm_cfg=dict(type='GN', num_groups=2)), dict(depth=18, init_cfg=dict(type='Kaiming'))]:
        with pytest.raises(PoseaiError): MODELS.build(dict(type='ResNet', **cfg))

def test_dilation_keeps_resolution():
    m = ResNet(50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)).eval()
    assert m(X)[0].shape == (1, 2048, 16, 12)

# parameter counts of MMPose 1.3.2's backbones at depth 50 (computed once with MMPose; poseai never imports it)
MMPOSE_PARAMS_50 = dict(ResNetV1d=23527264, ResNeXt=22979904, SEResNet=26039024, SEResNeXt=25510896)

@pytest.mark.parametrize('name', MMPOSE_PARAMS_50)
def test_variants_build_run_and_match_mmpose_param_counts(name):
    m = MODELS.build(dict(type=name, depth=50, out_indices=(0, 1, 2, 3))).eval()
    with torch.no_grad(): outs = m(torch.randn(1, 3, 128, 96))
    assert [tuple(o.shape) for o in outs] == [(1, c, 128 // s, 96 // s) for c, s in zip(WIDTHS[50], (4, 8, 16, 32))]
    assert n_params(m) == MMPOSE_PARAMS_50[name]

@pytest.mark.parametrize('depth,width', [(50, 4), (101, 8)])
def test_resnext_is_torchvision_resnext(depth, width):
    tv = getattr(torchvision.models, f'resnext{depth}_32x{width}d')()
    m = ResNeXt(depth, width_per_group=width)
    assert {k: v.shape for k, v in m.state_dict().items()} == {k: v.shape for k, v in tv.state_dict().items() if not k.startswith('fc.')}
    assert load_checkpoint(m, tv.state_dict()) == LoadReport([], [], [])

def test_se_layer_names_and_gate():
    keys = {k: tuple(v.shape) for k, v in SEResNet(50, se_ratio=8).state_dict().items() if k.startswith('layer4.2.se_layer')}
    assert keys == {'layer4.2.se_layer.conv1.conv.weight': (256, 2048, 1, 1), 'layer4.2.se_layer.conv1.conv.bias': (256,),
                    'layer4.2.se_layer.conv2.conv.weight': (2048, 256, 1, 1), 'layer4.2.se_layer.conv2.conv.bias': (256 * 8,)}
    se = SELayer(32, 4)
    x = torch.randn(2, 32, 5, 5)
    gate = se(x) / x
    assert ((gate > 0) & (gate < 1)).all() and torch.allclose(gate, gate[..., :1, :1].expand_as(gate), atol=1e-5)
    with pytest.raises(PoseaiError, match='invalid depth'): SEResNeXt(18)

# ConvModule, build_activation: tests/data/mmcv_conv_module.npz holds MMCV's ConvModule (via MMPose 1.3.2's venv,
# tests/data/make_mmcv_conv_module.py) with each activation, random weights, inputs and its outputs.
def mmcv_cases():
    d = np.load(Path(__file__).parent/'data'/'mmcv_conv_module.npz')
    n = len({k.split('/')[0] for k in d.files})
    return [dict(kw=json.loads(str(d[f'{i}/kwargs'])), keys=list(d[f'{i}/keys']), x=d[f'{i}/x'], y=d[f'{i}/y'],
                 sd={k[len(f'{i}/sd/'):]: torch.from_numpy(d[k]) for k in d.files if k.startswith(f'{i}/sd/')}) for i in range(n)]

@pytest.mark.parametrize('case', mmcv_cases(), ids=lambda c: str((c['kw']['act_cfg'] or {}).get('type')))
def test_conv_module_matches_mmcv(case):
    kw = dict(case['kw']); padding = kw.pop('padding')
    m = ConvModule(**kw).eval()                         # poseai's default padding is MMCV's explicit one here
    assert m.conv.padding == (padding, padding) and list(m.state_dict()) == case['keys']
    m.load_state_dict(case['sd'])
    with torch.no_grad(): y = m(torch.from_numpy(case['x'])).numpy()
    # bit for bit, but for tanh: PyTorch's vectorised tanh rounds differently on some CPUs (AMD EPYC: 1 unit in the last place)
    max_ulps = 1 if (case['kw']['act_cfg'] or {}).get('type') == 'Tanh' else 0
    assert np.abs(y.view(np.int32).astype(np.int64) - case['y'].view(np.int32)).max() <= max_ulps

def test_conv_module_defaults_are_mmcvs():
    m = ConvModule(3, 8, 3)
    assert m.bn is None and m.conv.bias is not None and type(m.activate) is nn.ReLU and m.activate.inplace and m.conv.padding == (1, 1)
    assert not (m.conv.bias != 0).any() and abs(m.conv.weight.std().item() - (2 / (8 * 9))**0.5) < 0.1   # Kaiming normal, fan out
    bn = ConvModule(3, 8, 3, norm_cfg=dict(type='BN'), act_cfg=None)
    assert bn.conv.bias is None and type(bn.activate) is nn.Identity and (bn.bn.weight == 1).all()
    assert ConvModule(3, 8, 3, bias=True, norm_cfg=dict(type='BN')).conv.bias is not None and ConvModule(3, 8, 1, bias=False).conv.bias is None

@pytest.mark.parametrize('k,d,s,p,size', [(3, 1, 1, None, 12), (5, 1, 1, None, 12), (3, 3, 1, None, 12), (7, 2, 2, None, 6), (3, 1, 1, 0, 10), (1, 1, 2, None, 6)])
def test_conv_module_padding(k, d, s, p, size):
    assert ConvModule(2, 2, k, s, p, d)(torch.randn(1, 2, 12, 12)).shape == (1, 2, size, size)

def test_conv_module_groups_and_errors():
    assert ConvModule(8, 16, 3, groups=4).conv.weight.shape == (16, 2, 3, 3)
    with pytest.raises(PoseaiError, match='padding'): ConvModule(2, 2, 4)
    with pytest.raises(PoseaiError, match='conv_cfg'): ConvModule(2, 2, 3, conv_cfg=dict(type='Conv3d'))
    with pytest.raises(PoseaiError, match='norm type'): ConvModule(2, 2, 3, norm_cfg=dict(type='GN'))

def test_build_activation():
    assert type(build_activation(dict(type='SiLU'))) is nn.SiLU and type(build_activation(dict(type='Swish'))) is Swish
    assert build_activation(dict(type='PReLU', num_parameters=4)).weight.shape == (4,)
    assert not build_activation(dict(type='ReLU')).inplace and build_activation(dict(type='HSwish'), inplace=True).inplace
    assert torch.equal(HSigmoid()(torch.tensor([-3., 0., 3.])), torch.tensor([0., .5, 1.]))
    assert torch.equal(HSigmoid(1.0, 2.0)(torch.tensor([-2., 0., 3.])), torch.tensor([0., .5, 1.]))
    with pytest.raises(PoseaiError, match="'Mish' is not supported.*ReLU6.*HSigmoid"): build_activation(dict(type='Mish'))
    with pytest.raises(PoseaiError, match='HSigmoid'): build_activation(dict(type='HSigmoid', bais=1))

def test_init_or_load(tmp_path):
    src = ResNet(18)
    path = tmp_path/'ckpt.pth'
    torch.save({'state_dict': {f'backbone.{k}': v + 1 if v.is_floating_point() else v for k, v in src.state_dict().items()}}, path)
    m = ResNet(18, init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    assert all(torch.equal(a, b + 1) for a, b in zip(m.state_dict().values(), src.state_dict().values()) if a.is_floating_point())
    with pytest.raises(PoseaiError, match='init_cfg'): ResNet(18, init_cfg=dict(type='Pretrained'))
    sd = {k: v for k, v in torch.load(path)['state_dict'].items() if 'layer4' not in k}
    partial_load = ResNet(18, init_cfg=dict(type='Pretrained', checkpoint=sd, prefix='backbone.', strict=False))
    assert (partial_load.layer4[0].bn1.weight == 1).all() and (partial_load.layer4[0].bn2.weight == 0).all()   # default init where nothing loaded

def test_count_flops():
    assert count_flops(nn.Conv2d(3, 8, 3, padding=1), (8, 8)) == 8 * 8 * 8 * 3 * 3 * 3      # MACs: outputs x (in channels x kernel)
    assert count_flops(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), (8, 8), in_channels=4) == 4 * 4 * 8 * 2 * 3 * 3
    m = ResNet(18).train()
    assert count_flops(m, (64, 64)) > 0 and m.training                 # the mode is restored
    # MMPose's counter (mmengine.analysis.FlopAnalyzer on MMPose 1.3.2's ResNet-50, 1x3x256x192) counts 4003725312 for the convs
    # (and 0.5% more for its batch norms, which count_flops leaves out)
    assert count_flops(ResNet(50)) == 4003725312
