"Multi-stage backbones (MSPN, RSN, LiteHRNet): shapes, MMPose's state-dict names and parameter counts, outputs against MMPose, loading, norm_eval, with_cp."
import hashlib, numpy as np, pytest, torch
from pathlib import Path
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import ResNet, load_checkpoint
from poseai.multistage_backbones import *
from data.make_mmpose_multistage import CONFIGS, fill_weights, flat

@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "These models run hundreds of tiny ops; on a busy 2-core machine one thread is several times faster than two."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def n_params(m): return sum(p.numel() for p in m.parameters())
def names_digest(m): return hashlib.sha256('\n'.join(f'{k}:{tuple(v.shape)}' for k, v in m.state_dict().items()).encode()).hexdigest()[:16]
def shapes(o): return [shapes(v) for v in o] if isinstance(o, (list, tuple)) else tuple(o.shape[1:])

U4 = [(256, 8, 6), (256, 16, 12), (256, 32, 24), (256, 64, 48)]
LITE_SMALL = dict(stem=dict(stem_channels=16, out_channels=24, expand_ratio=2), num_stages=3, with_head=False,
                  stages_spec=dict(num_modules=(1, 2, 1), num_branches=(2, 3, 4), num_blocks=(1, 2, 1), module_type=('NAIVE', 'LITE', 'NAIVE'),
                                   with_fuse=(True, False, True), reduce_ratios=(4, 8, 8), num_channels=((16, 32), (16, 32, 64), (16, 32, 64, 128))))
# (config, output shapes on 1x3x256x192 (nested like the output), parameter count, state-dict entries, sha256[:16] of the ordered 'name:shape' lines).
# Counts, entries and digests were measured by building MMPose 1.3.2's backbone with the same arguments (peer venv, /tmp script), whose outputs
# ours reproduce exactly (max abs diff 0, eval and train mode, input gradients too) after loading its state dict.
CASES = {
    'mspn50': (dict(type='MSPN', unit_channels=256, num_stages=1, num_units=4, num_blocks=[3, 4, 6, 3]), [U4], 24691264, 360, '44c0e12ddcf4eae6'),
    '2xmspn50': (dict(type='MSPN', unit_channels=256, num_stages=2, num_units=4, num_blocks=[3, 4, 6, 3]), [U4, U4], 55958464, 768, '0a4bb3e9e6bd7e9c'),
    'mspn_small': (dict(type='MSPN', unit_channels=32, num_stages=3, num_units=2, num_blocks=[1, 2]), [[(32, 32, 24), (32, 64, 48)]] * 3, 3005312, 318, '91023519042b9327'),
    'rsn18': (dict(type='RSN', unit_channels=256, num_stages=1, num_units=4, num_blocks=[2, 2, 2, 2], num_steps=4), [U4], 8723936, 642, '574ed3a5f4440215'),
    'rsn_small': (dict(type='RSN', unit_channels=32, num_stages=2, num_units=3, num_blocks=[1, 2, 1], num_steps=2, expand_times=13),
                  [[(32, 16, 12), (32, 32, 24), (32, 64, 48)]] * 2, 409044, 372, '959d21d3e5ad6878'),
    'litehrnet18': (dict(type='LiteHRNet', in_channels=3, extra=LITEHRNET_18), [(40, 64, 48)], 1130072, 1416, '3e1b304d2abe163c'),
    'litehrnet30': (dict(type='LiteHRNet', in_channels=3, extra=LITEHRNET_30), [(40, 64, 48)], 1763020, 2358, '3c4686123cbbbdf6'),
    'naive_litehrnet18': (dict(type='LiteHRNet', extra=litehrnet_extra((2, 4, 2), 'NAIVE')), [(40, 64, 48)], 1317928, 1608, '01725424571d1998'),
    'litehrnet_small': (dict(type='LiteHRNet', extra=LITE_SMALL), [(16, 64, 48)], 81400, 534, 'dd67721be7cf58e9'),
}

@pytest.mark.parametrize('name', CASES)
def test_shapes_names_and_param_counts_match_mmpose(name):
    cfg, out_shapes, count, entries, digest = CASES[name]
    with torch.device('meta'):   # shapes without arithmetic: the full models stay fast
        m = MODELS.build(cfg).eval()
        out = m(torch.empty(1, 3, 256, 192))
    assert isinstance(out, list if cfg['type'] != 'LiteHRNet' else tuple) and shapes(out) == out_shapes
    assert n_params(m) == count and len(m.state_dict()) == entries and names_digest(m) == digest

@pytest.mark.parametrize('name', CONFIGS)
def test_outputs_equal_mmpose(name):
    "tests/data/mmpose_multistage.npz: MMPose's outputs for the same numpy-drawn weights (tests/data/make_mmpose_multistage.py)."
    ref = np.load(Path(__file__).parent/'data'/'mmpose_multistage.npz')
    m = fill_weights(MODELS.build(CONFIGS[name]))
    with torch.no_grad(): outs = flat(m(torch.from_numpy(ref['x'])))
    assert len(outs) == len([k for k in ref if k.startswith(name + '_')])
    for i, o in enumerate(outs): torch.testing.assert_close(o, torch.from_numpy(ref[f'{name}_{i}']), rtol=1e-5, atol=1e-5)

@pytest.mark.parametrize('name', CONFIGS)
def test_forward_256x192(name):
    m = MODELS.build(CONFIGS[name]).eval()
    with torch.no_grad(): out = m(torch.randn(1, 3, 256, 192))
    finest = out[-1][-1] if isinstance(out, list) else out[0]
    assert finest.shape[-2:] == (64, 48) and torch.isfinite(finest).all()

@pytest.mark.parametrize('name', CONFIGS)
def test_state_dict_round_trip(name):
    a = fill_weights(MODELS.build(CONFIGS[name]))
    b = MODELS.build(CONFIGS[name]).eval()
    assert load_checkpoint(b, a.state_dict(), strict=True) == ([], [], [])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(): assert all(torch.equal(p, q) for p, q in zip(flat(a(x)), flat(b(x))))

@pytest.mark.parametrize('name', CONFIGS)
def test_mmpose_checkpoint_prefix_round_trip(tmp_path, name):
    a = fill_weights(MODELS.build(CONFIGS[name]))
    torch.save({'meta': {}, 'state_dict': {f'backbone.{k}': v for k, v in a.state_dict().items()}}, tmp_path/'ckpt.pth')
    if name == 'mspn':   # MSPN's Pretrained means ImageNet ResNet weights (below); whole checkpoints go through load_checkpoint
        b = MODELS.build(CONFIGS[name]); load_checkpoint(b, str(tmp_path/'ckpt.pth'), prefix='backbone.')
    else: b = MODELS.build(dict(CONFIGS[name], init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'ckpt.pth'), prefix='backbone.')))
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

def test_mspn_imagenet_init_like_mmpose(tmp_path):
    "MMPose's MSPN init_cfg Pretrained: ResNet's stem into `top`, its layers into every stage's encoder; the rest keeps MMPose's init."
    r50 = ResNet(50)
    torch.nn.init.normal_(r50.bn1.weight)
    torch.save({**r50.state_dict(), 'fc.weight': torch.zeros(1000, 2048)}, tmp_path/'r50.pth')
    cfg = dict(type='MSPN', unit_channels=32, num_stages=2, num_units=3, num_blocks=[3, 4, 6])
    m = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'r50.pth'))))
    sd, rsd = m.state_dict(), r50.state_dict()
    assert torch.equal(sd['top.top.0.bn.weight'], rsd['bn1.weight']) and torch.equal(sd['top.top.0.conv.weight'], rsd['conv1.weight'])
    for s in (0, 1):
        assert torch.equal(sd[f'multi_stage_mspn.{s}.downsample.layer3.5.conv2.weight'], rsd['layer3.5.conv2.weight'])
        assert torch.equal(sd[f'multi_stage_mspn.{s}.downsample.layer2.0.downsample.bn.running_var'], rsd['layer2.0.downsample.1.running_var'])
    assert torch.equal(sd['multi_stage_mspn.0.upsample.up1.in_skip.bn.weight'], torch.ones(32))
    top, layers = resnet_to_mspn({'module.layer1.0.downsample.0.weight': 1, 'conv1.weight': 2, 'fc.bias': 3})
    assert top == {'top.0.conv.weight': 2} and layers == {'layer1.0.downsample.conv.weight': 1}

@pytest.mark.parametrize('src,dst', [('mspn', 'rsn'), ('rsn', 'mspn'), ('litehrnet', 'mspn')])
def test_wrong_architecture_raises(src, dst):
    with pytest.raises(PoseaiError, match='missing'): load_checkpoint(MODELS.build(CONFIGS[dst]), MODELS.build(CONFIGS[src]).state_dict())

def test_wrong_variant_raises():
    with pytest.raises(PoseaiError, match='missing'): load_checkpoint(LiteHRNet(LITEHRNET_30), LiteHRNet(LITEHRNET_18).state_dict())
    with pytest.raises(PoseaiError, match='missing|unexpected'): load_checkpoint(LiteHRNet(litehrnet_extra((2, 4, 2), 'NAIVE')), LiteHRNet(LITEHRNET_18).state_dict())
    two = dict(CONFIGS['mspn'], num_stages=3)
    with pytest.raises(PoseaiError, match='missing'): load_checkpoint(MODELS.build(two), MODELS.build(CONFIGS['mspn']).state_dict())
    with pytest.raises(PoseaiError, match='mismatched'): load_checkpoint(MODELS.build(dict(CONFIGS['rsn'], unit_channels=16)), MODELS.build(CONFIGS['rsn']).state_dict())

def _extra(**spec): return dict(LITE_SMALL, stages_spec=dict(LITE_SMALL['stages_spec'], **spec))
@pytest.mark.parametrize('cfg', [dict(type='MSPN', num_units=1, num_blocks=[2]), dict(type='MSPN', num_blocks=[2, 2]), dict(type='MSPN', num_stages=0),
                                 dict(type='RSN', num_steps=1), dict(type='RSN', init_cfg=dict(type='Kaiming')), dict(type='MSPN', norm_cfg=dict(type='GN')),
                                 dict(type='LiteHRNet', extra=_extra(module_type=('LITE', 'FOO', 'LITE'))), dict(type='LiteHRNet', extra=_extra(num_modules=(1, 1))),
                                 dict(type='LiteHRNet', extra=_extra(num_channels=((16, 32), (16, 32), (16, 32, 64, 128)))),
                                 dict(type='LiteHRNet', extra={k: v for k, v in LITE_SMALL.items() if k != 'with_head'}),
                                 dict(type='LiteHRNet', extra=LITE_SMALL, conv_cfg=dict(type='DCN'))])
def test_bad_arguments_raise(cfg):
    with pytest.raises(PoseaiError): MODELS.build(cfg)

def test_norm_eval():
    m = LiteHRNet(LITE_SMALL, norm_eval=True).train()
    assert m.training and m.stage1.training and not any(b.training for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    assert all(b.training for b in LiteHRNet(LITE_SMALL).train().modules() if isinstance(b, torch.nn.BatchNorm2d))
    assert all(b.training for b in MODELS.build(CONFIGS['rsn']).train().modules() if isinstance(b, torch.nn.BatchNorm2d))

def test_with_cp_same_gradients():
    torch.manual_seed(0); a = fill_weights(LiteHRNet(LITE_SMALL)).train()
    b = LiteHRNet(LITE_SMALL, with_cp=True).train(); b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    a(x)[0].sum().backward(); g = x.grad.clone(); x.grad = None
    b(x)[0].sum().backward()
    torch.testing.assert_close(x.grad, g, rtol=1e-5, atol=1e-6)

def test_init_follows_mmpose():
    m = MODELS.build(CONFIGS['mspn'])
    assert all(torch.equal(b.weight, torch.ones_like(b.weight)) and not b.bias.any() for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    w = m.multi_stage_mspn[0].downsample.layer2[0].conv2.weight   # Kaiming normal, fan_out: std sqrt(2 / (128 * 9))
    assert abs(w.std().item() - (2 / (128 * 9)) ** 0.5) < 0.05 * (2 / (128 * 9)) ** 0.5
    lite = LiteHRNet(LITE_SMALL)
    assert abs(lite.stage1[0].layers[0].cross_resolution_weighting.conv1.conv.weight.std().item() - 0.001) < 2e-4

def test_fusion_counts_branch0_twice_like_mmpose():
    torch.manual_seed(0)
    mod = fill_weights(LiteHRModule(3, 1, [8, 16, 32], 4, 'NAIVE', multiscale_output=True))
    xs = [torch.randn(1, 8, 16, 16), torch.randn(1, 16, 8, 8), torch.randn(1, 32, 4, 4)]
    with torch.no_grad():
        b = [branch(x) for branch, x in zip(mod.layers, xs)]
        f = mod.fuse_layers
        s0 = 2 * b[0] + f[0][1](b[1]) + f[0][2](b[2])
        expected = [s0.relu(), (2 * f[1][0](s0) + b[1] + f[1][2](b[2])).relu(), (2 * f[2][0](s0) + f[2][1](b[1]) + b[2]).relu()]
        for o, e in zip(mod(xs), expected): torch.testing.assert_close(o, e, rtol=1e-5, atol=1e-5)
