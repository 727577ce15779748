"Light backbones (MobileNetV2/V3, ShuffleNetV1/V2): shapes, MMPose's state-dict names and parameter counts, checkpoint loading, freezing."
import hashlib, pytest, torch
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import HSigmoid, count_flops, load_checkpoint
from poseai.light_backbones import *

X = torch.randn(1, 3, 256, 192)
def n_params(m): return sum(p.numel() for p in m.parameters())
def names_digest(m): return hashlib.sha256('\n'.join(f'{k}:{tuple(v.shape)}' for k, v in m.state_dict().items()).encode()).hexdigest()[:16]

# (config, output shapes on 1x3x256x192, parameter count, state-dict entries, sha256[:16] of the ordered 'name:shape' lines).
# Counts, entries and digests were measured by building MMPose 1.3.2's backbone with the same arguments (peer venv, /tmp script),
# whose outputs our models reproduce exactly after loading its state dict.
CASES = {
    'mbv2': (dict(type='MobileNetV2', out_indices=tuple(range(8))),
             [(16, 128, 96), (24, 64, 48), (32, 32, 24), (64, 16, 12), (96, 16, 12), (160, 8, 6), (320, 8, 6), (1280, 8, 6)], 2223872, 312, 'd4996eb88eab0ee1'),
    'mbv2_w05': (dict(type='MobileNetV2', widen_factor=0.5), [(1280, 8, 6)], 687680, 312, 'eb7e5a165203cd6e'),
    'snv2': (dict(type='ShuffleNetV2', out_indices=(0, 1, 2, 3)), [(116, 32, 24), (232, 16, 12), (464, 8, 6), (1024, 8, 6)], 1253604, 336, 'a012b1ba96298b0e'),
    'mbv3s': (dict(type='MobileNetV3', arch='small', out_indices=tuple(range(11))),
              [(16, 64, 48), (24, 32, 24), (24, 32, 24), (40, 16, 12), (40, 16, 12), (40, 16, 12), (48, 16, 12), (48, 16, 12), (96, 8, 6), (96, 8, 6), (96, 8, 6)],
              865230, 240, '3b883d0ffd421857'),
    'mbv3b': (dict(type='MobileNetV3', arch='big', out_indices=tuple(range(15))),
              [(16, 128, 96), (24, 64, 48), (24, 64, 48), (40, 32, 24), (40, 32, 24), (40, 32, 24), (80, 16, 12), (80, 16, 12), (80, 16, 12), (80, 16, 12),
               (112, 16, 12), (112, 16, 12), (160, 16, 12), (160, 8, 6), (160, 8, 6)], 2479006, 308, 'ececba391a752950'),
    'snv1': (dict(type='ShuffleNetV1', out_indices=(0, 1, 2)), [(240, 32, 24), (480, 16, 12), (960, 8, 6)], 904728, 294, 'b6335b14b8ce5d32'),
    'snv1_g8': (dict(type='ShuffleNetV1', groups=8, out_indices=(0, 1, 2)), [(384, 32, 24), (768, 16, 12), (1536, 8, 6)], 897768, 294, 'c5f65ac087126afa'),
}

@pytest.mark.parametrize('name', CASES)
def test_shapes_names_and_param_counts_match_mmpose(name):
    cfg, shapes, count, entries, digest = CASES[name]
    m = MODELS.build(cfg).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, *s) for s in shapes]
    assert n_params(m) == count
    assert len(m.state_dict()) == entries and names_digest(m) == digest

@pytest.mark.parametrize('name', CASES)
def test_state_dict_round_trip(name):
    cfg = CASES[name][0]
    torch.manual_seed(0); a = MODELS.build(cfg).eval()
    torch.manual_seed(1); b = MODELS.build(cfg).eval()
    assert load_checkpoint(b, a.state_dict(), strict=True) == ([], [], [])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(): assert all(torch.equal(p, q) for p, q in zip(a(x), b(x)))

def test_mmpose_checkpoint_prefix_round_trip(tmp_path):
    a = MobileNetV2()
    torch.save({'meta': {}, 'state_dict': {f'backbone.{k}': v for k, v in a.state_dict().items()}}, tmp_path/'ckpt.pth')
    b = MODELS.build(dict(type='MobileNetV2', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'ckpt.pth'), prefix='backbone.')))
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

@pytest.mark.parametrize('src,dst,word', [('MobileNetV2', 'ShuffleNetV2', 'missing'), ('ShuffleNetV2', 'ShuffleNetV1', 'missing'),
                                          ('MobileNetV3', 'MobileNetV2', 'missing'), ('ShuffleNetV1', 'MobileNetV3', 'missing')])
def test_wrong_architecture_raises(src, dst, word):
    with pytest.raises(PoseaiError, match=word): load_checkpoint(MODELS.build(dict(type=dst)), MODELS.build(dict(type=src)).state_dict())

def test_wrong_variant_raises_mismatched():
    with pytest.raises(PoseaiError, match='mismatched'): load_checkpoint(MobileNetV2(widen_factor=0.5), MobileNetV2().state_dict())
    with pytest.raises(PoseaiError, match='missing|unexpected'): load_checkpoint(MobileNetV3('big'), MobileNetV3('small').state_dict())

def test_default_out_indices_last_stage():
    for cfg, c in [(dict(type='MobileNetV2'), 1280), (dict(type='MobileNetV3'), 96), (dict(type='ShuffleNetV1'), 960), (dict(type='ShuffleNetV2'), 1024)]:
        m = MODELS.build(cfg).eval()
        with torch.no_grad(): outs = m(torch.randn(1, 3, 64, 64))
        assert len(outs) == 1 and outs[0].shape == (1, c, 2, 2) and m.feat_dim == c

@pytest.mark.parametrize('cfg', [dict(type='MobileNetV2', out_indices=(8,)), dict(type='MobileNetV2', frozen_stages=8), dict(type='MobileNetV3', arch='large'),
                                 dict(type='MobileNetV3', out_indices=(-12,)), dict(type='ShuffleNetV2', widen_factor=0.75), dict(type='ShuffleNetV1', groups=5),
                                 dict(type='ShuffleNetV1', out_indices=(3,)), dict(type='MobileNetV2', conv_cfg=dict(type='DCN')),
                                 dict(type='MobileNetV2', act_cfg=dict(type='NoSuchActivation')), dict(type='ShuffleNetV2', init_cfg=dict(type='Kaiming'))])
def test_bad_arguments_raise(cfg):
    with pytest.raises(PoseaiError): MODELS.build(cfg)

def test_frozen_stages_and_norm_eval():
    m = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    assert {n.split('.')[0] for n, p in m.named_parameters() if not p.requires_grad} == {'conv1', 'layer1', 'layer2'}
    assert not m.layer2.training and m.layer3.training and not m.layer3[0].conv[0].bn.training
    v3 = MobileNetV3(frozen_stages=1).train()
    assert {n.split('.')[0] for n, p in v3.named_parameters() if not p.requires_grad} == {'conv1', 'layer1'} and v3.layer2.training
    for cls in (ShuffleNetV1, ShuffleNetV2):
        s = cls(frozen_stages=1).train()
        assert not s.layers[0].training and not s.layers[0][0].training and s.layers[1].training
        assert {'.'.join(n.split('.')[:2]) for n, p in s.named_parameters() if not p.requires_grad} == {'conv1.conv', 'conv1.bn', 'layers.0'}

@pytest.mark.parametrize('cfg', [dict(type='MobileNetV2'), dict(type='MobileNetV3'), dict(type='ShuffleNetV1'), dict(type='ShuffleNetV2')])
def test_with_cp_same_gradients(cfg):
    torch.manual_seed(0); a = MODELS.build(cfg)
    b = MODELS.build(dict(cfg, with_cp=True)); b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    a(x)[0].sum().backward(); g = x.grad.clone(); x.grad = None
    b(x)[0].sum().backward()
    assert torch.allclose(x.grad, g, atol=1e-5)

def test_init_follows_mmpose():
    m = MobileNetV2()
    assert all(torch.equal(b.weight, torch.ones_like(b.weight)) and not b.bias.any() for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    s = ShuffleNetV2()
    assert torch.allclose(s.layers[0][0].branch1[0].bn.bias, torch.full_like(s.layers[0][0].branch1[0].bn.bias, 1e-4))
    w = s.layers[2][0].branch2[0].conv.weight
    assert abs(w.std().item() - 1 / w.shape[1]) < 0.2 / w.shape[1]

def test_helpers():
    assert [make_divisible(32 * w, 8) for w in (0.35, 0.5, 0.75, 1.0, 1.4)] == [16, 16, 24, 32, 48]
    assert channel_shuffle(torch.arange(6.).view(1, 6, 1, 1), 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    assert HSigmoid(1.0, 2.0)(torch.tensor([-2., 0., 3.])).tolist() == [0., .5, 1.]

def test_flops_match_mmposes_counter():
    # mmengine.analysis.FlopAnalyzer on MMPose 1.3.2's MobileNetV2 at 1x3x256x192 counts 293382144 MACs in its convs
    assert count_flops(MobileNetV2()) == 293382144
