"ResNet variants (RegNet, ResNeSt, SCNet): shapes, MMPose's state-dict names and parameter counts, checkpoint loading, freezing."
import hashlib, pytest, torch
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import ResBlock, load_checkpoint
from poseai.resnet_variants import *

X = torch.randn(1, 3, 256, 192)
def n_params(m): return sum(p.numel() for p in m.parameters())
def names_digest(m): return hashlib.sha256('\n'.join(f'{k}:{tuple(v.shape)}' for k, v in m.state_dict().items()).encode()).hexdigest()[:16]
STAGES = [(256, 64, 48), (512, 32, 24), (1024, 16, 12), (2048, 8, 6)]

# (config, output shapes on 1x3x256x192, parameter count, state-dict entries, sha256[:16] of the ordered 'name:shape' lines).
# Counts, entries and digests were measured by building MMPose 1.3.2's backbone with the same arguments (peer venv, /tmp script),
# whose outputs our models reproduce exactly after loading its state dict. Checked on the meta device (shapes, no arithmetic).
CASES = {
    'regnetx_400mf': (dict(type='RegNet', arch='regnetx_400mf', out_indices=(0, 1, 2, 3)),
                      [(32, 64, 48), (64, 32, 24), (160, 16, 12), (384, 8, 6)], 4772512, 426, 'ab88b3adbd3afdef'),
    'regnetx_3.2gf': (dict(type='RegNet', arch='regnetx_3.2gf', out_indices=(0, 1, 2, 3)),
                      [(96, 64, 48), (192, 32, 24), (432, 16, 12), (1008, 8, 6)], 14287552, 480, 'f51ca8de0be17575'),
    'regnetx_12gf': (dict(type='RegNet', arch='regnetx_12gf'), [(2240, 8, 6)], 43865056, 372, '582d46a3cdaf1cd1'),
    'regnet_dict_bot05': (dict(type='RegNet', arch=dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=0.5), out_indices=(0, 1, 2, 3)),
                          [(24, 64, 48), (64, 32, 24), (160, 16, 12), (384, 8, 6)], 2432800, 426, '32e888390d858184'),
    'resnest50': (dict(type='ResNeSt', depth=50, out_indices=(0, 1, 2, 3)), STAGES, 25434240, 474, '366d08d5c6b48870'),
    'resnest50_r1_g2': (dict(type='ResNeSt', depth=50, radix=1, groups=2, out_indices=(0, 1, 2, 3)), STAGES, 4112888, 474, 'b2c87d4e856c1974'),
    'resnest101_stem128': (dict(type='ResNeSt', depth=101, stem_channels=128), STAGES[-1:], 46226016, 933, '3b8eabb58b1de631'),
    'scnet50': (dict(type='SCNet', depth=50, out_indices=(0, 1, 2, 3)), STAGES, 23515584, 702, '92de931d891d0944'),
    'scnet101': (dict(type='SCNet', depth=101), STAGES[-1:], 42516416, 1416, '7d77feaf02970f27'),
}

@pytest.mark.parametrize('name', CASES)
def test_shapes_names_and_param_counts_match_mmpose(name):
    cfg, shapes, count, entries, digest = CASES[name]
    with torch.device('meta'):
        m = MODELS.build(cfg).eval()
        outs = m(torch.empty(1, 3, 256, 192))
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, *s) for s in shapes]
    assert n_params(m) == count and m.feat_dim == shapes[-1][0]
    assert len(m.state_dict()) == entries and names_digest(m) == digest

@pytest.mark.parametrize('name', ['regnetx_400mf', 'resnest50', 'scnet50'])
def test_forward_256x192(name):
    cfg, shapes = CASES[name][:2]
    torch.manual_seed(0); m = MODELS.build(cfg).eval()
    with torch.no_grad(): outs = m(X)
    assert [tuple(o.shape) for o in outs] == [(1, *s) for s in shapes] and all(o.isfinite().all() and o.std() > 0 for o in outs)

# Small configs (fast on CPU) for the tests that run real arithmetic several times.
SMALL = {'regnet': dict(type='RegNet', arch=dict(w0=16, wa=16.0, wm=2.0, group_w=8, depth=8, bot_mul=1.0), stem_channels=16),
         'resnest': dict(type='ResNeSt', depth=50, stem_channels=16, base_channels=8, groups=2, width_per_group=4),
         'scnet': dict(type='SCNet', depth=50, stem_channels=16, base_channels=8)}

@pytest.mark.parametrize('name', SMALL)
def test_state_dict_round_trip(name):
    cfg = SMALL[name]
    torch.manual_seed(0); a = MODELS.build(cfg).eval()
    torch.manual_seed(1); b = MODELS.build(cfg).eval()
    assert load_checkpoint(b, a.state_dict(), strict=True) == ([], [], [])
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad(): assert all(torch.equal(p, q) for p, q in zip(a(x), b(x)))

def test_mmpose_checkpoint_prefix_round_trip(tmp_path):
    a = RegNet('regnetx_400mf')
    torch.save({'meta': {}, 'state_dict': {f'backbone.{k}': v for k, v in a.state_dict().items()}}, tmp_path/'ckpt.pth')
    b = MODELS.build(dict(type='RegNet', arch='regnetx_400mf', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'ckpt.pth'), prefix='backbone.')))
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

@pytest.mark.parametrize('src,dst,word', [(dict(type='RegNet', arch='regnetx_400mf'), dict(type='RegNet', arch='regnetx_800mf'), 'mismatched'),
                                          (dict(type='ResNeSt', depth=50), dict(type='SCNet', depth=50), 'missing'),
                                          (dict(type='ResNet', depth=50), dict(type='ResNeSt', depth=50), 'missing'),
                                          (dict(type='ResNeSt', depth=50), dict(type='ResNeSt', depth=50, radix=1, groups=2), 'mismatched')])
def test_wrong_architecture_raises(src, dst, word):
    with pytest.raises(PoseaiError, match=word): load_checkpoint(MODELS.build(dst), MODELS.build(src).state_dict())

@pytest.mark.parametrize('cfg', [dict(type='RegNet', arch='regnetx_2gf'), dict(type='RegNet', arch=3), dict(type='RegNet', arch=dict(w0=24, wa=24.48)),
                                 dict(type='RegNet', arch=dict(w0=20, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=1.0)),
                                 dict(type='RegNet', arch='regnetx_400mf', deep_stem=True), dict(type='RegNet', arch='regnetx_400mf', out_indices=(4,)),
                                 dict(type='RegNet', arch='regnetx_400mf', strides=(2, 2, 2)), dict(type='RegNet', arch='regnetx_400mf', conv_cfg=dict(type='DCN')),
                                 dict(type='ResNeSt', depth=18), dict(type='SCNet', depth=152), dict(type='SCNet', depth=50, norm_cfg=dict(type='GN'))])
def test_bad_arguments_raise(cfg):
    with pytest.raises(PoseaiError): MODELS.build(cfg)

def test_frozen_stages_and_norm_eval():
    m = RegNet('regnetx_400mf', frozen_stages=2, norm_eval=True).train()
    assert {n.split('.')[0] for n, p in m.named_parameters() if not p.requires_grad} == {'conv1', 'bn1', 'layer1', 'layer2'}
    assert not m.bn1.training and not m.layer2.training and m.layer3.training and not m.layer3[0].bn1.training
    s = ResNeSt(50, frozen_stages=1).train()
    assert {n.split('.')[0] for n, p in s.named_parameters() if not p.requires_grad} == {'stem', 'layer1'}
    assert not s.layer1[0].conv2.bn0.training and s.layer2[0].conv2.bn0.training
    c = SCNet(50, frozen_stages=0, norm_eval=True).train()
    assert {n.split('.')[0] for n, p in c.named_parameters() if not p.requires_grad} == {'conv1', 'bn1'}
    assert c.layer1.training and not c.layer1[0].scconv.k2[2].training

@pytest.mark.parametrize('name', SMALL)
def test_with_cp_reaches_every_block(name):
    m = MODELS.build(dict(SMALL[name], with_cp=True))
    assert all(b.with_cp for b in m.modules() if isinstance(b, ResBlock)) and sum(isinstance(b, ResBlock) for b in m.modules()) > 3

@pytest.mark.parametrize('block', [lambda cp: ResNeStBottleneck(32, 32, stride=2, downsample=torch.nn.AvgPool2d(2), groups=2, base_channels=8, with_cp=cp),
                                   lambda cp: SCBottleneck(32, 32, stride=2, downsample=torch.nn.AvgPool2d(2), with_cp=cp)], ids=['resnest', 'scnet'])
def test_with_cp_same_gradients(block):
    torch.manual_seed(0); a = block(False)
    b = block(True); b.load_state_dict(a.state_dict())
    x = torch.randn(2, 32, 32, 32, requires_grad=True)
    a(x).sum().backward(); g = x.grad.clone(); x.grad = None
    b(x).sum().backward()
    assert torch.allclose(x.grad, g, atol=1e-5)

def test_init_follows_mmpose():
    for m in (RegNet('regnetx_400mf'), SCNet(50)):
        assert all(not b.bias.any() for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
        assert not m.layer1[0].bn3.weight.any() and torch.equal(m.layer1[0].bn1.weight, torch.ones_like(m.layer1[0].bn1.weight))

def test_regnet_widths_and_stages():
    assert regnet_widths(24, 24.48, 2.54, 22) == [24] + [64]*2 + [152]*7 + [392]*12
    assert regnet_stages(88, 26.31, 2.25, 25, 48, 1.0) == ([96, 192, 432, 1008], [2, 6, 15, 2], [48, 48, 48, 48])
    assert RegNet('regnetx_400mf').layer3[0].conv2.groups == 160 // 16

def test_split_attention_weights_sum_to_one():
    w = RSoftmax(radix=4, groups=2)(torch.randn(3, 2 * 4 * 5)).view(3, 4, 2 * 5)
    assert torch.allclose(w.sum(1), torch.ones(3, 10))
    assert torch.equal(RSoftmax(1, 2)(torch.zeros(1, 4)), torch.full((1, 4), 0.5))
