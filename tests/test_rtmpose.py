"RTMPose's CSPNeXt and RTMCCHead: MMPose's state-dict names, shapes and parameter counts, outputs and predictions equal to MMPose's, bad input."
import hashlib, json
from pathlib import Path
import numpy as np, pytest, torch
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import load_checkpoint
from poseai.heatmap_codecs import flip_vectors
from poseai.rtmpose import *
from poseai.evaluation import simcc_pck_accuracy

X = torch.randn(1, 3, 256, 192)
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
def n_params(m): return sum(p.numel() for p in m.parameters())
def names(m): return '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in m.state_dict().items())
def names_digest(m): return hashlib.sha256(names(m).encode()).hexdigest()[:16]

RTMPOSE_T_HEAD = dict(type='RTMCCHead', in_channels=384, out_channels=17, input_size=(192, 256), in_featuremap_size=(6, 8), final_layer_kernel_size=7,
                      gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
                      decoder=dict(type='SimCCLabel', input_size=(192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False))

# (config, output shapes, parameter count, state-dict entries, sha256[:16] of the ordered 'name:shape' lines). Counts, entries, digests and
# shapes were measured by building MMPose 1.3.2's modules with the same arguments (peer venv, a /tmp script); backbones on 1x3x256x192,
# heads on 2 feature maps of in_featuremap_size.
BACKBONES = {
    'cspnext_t': (dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.375, out_indices=(0, 1, 2, 3, 4)),
                  [(24, 128, 96), (48, 64, 48), (96, 32, 24), (192, 16, 12), (384, 8, 6)], 2348700, 206, 'f09b472c81c71d5d'),
    'cspnext_s': (dict(type='CSPNeXt', deepen_factor=0.33, widen_factor=0.5, out_indices=(4,)), [(512, 8, 6)], 4378320, 242, '5567707ec840dc99'),
    'p6_dw': (dict(type='CSPNeXt', arch='P6', deepen_factor=0.33, widen_factor=0.25, use_depthwise=True, channel_attention=False, expand_ratio=0.25,
                   out_indices=(3, 4, 5)), [(128, 16, 12), (192, 8, 6), (256, 4, 3)], 410232, 348, 'aa9619db58e89414'),
}
HEADS = {
    'rtmpose_t': (RTMPOSE_T_HEAD, [(17, 384), (17, 512)], 988307, 12, '456a5436dc8eb5f1'),
    'rel_bias': (dict(type='RTMCCHead', in_channels=64, out_channels=21, input_size=(256, 256), in_featuremap_size=(8, 8),
                      gau_cfg=dict(hidden_dims=128, s=64, expansion_factor=3, dropout_rate=0.1, drop_path=0.1, act_fn='ReLU', use_rel_bias=True, pos_enc=True)),
                 [(21, 512), (21, 512)], 296704, 13, 'e48aab67f2806b76'),
}

def head_input(cfg, batch=2): return (torch.randn(batch, cfg['in_channels'], cfg['in_featuremap_size'][1], cfg['in_featuremap_size'][0]),)

@pytest.mark.parametrize('name', BACKBONES)
def test_backbone_shapes_names_and_param_counts_match_mmpose(name):
    cfg, shapes, count, entries, digest = BACKBONES[name]
    m = MODELS.build(cfg).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, *s) for s in shapes]
    assert n_params(m) == count and len(m.state_dict()) == entries and names_digest(m) == digest

@pytest.mark.parametrize('name', HEADS)
def test_head_shapes_names_and_param_counts_match_mmpose(name):
    cfg, shapes, count, entries, digest = HEADS[name]
    m = MODELS.build(cfg).eval()
    with torch.no_grad(): outs = m(head_input(cfg))
    assert [tuple(o.shape) for o in outs] == [(2, *s) for s in shapes]
    assert n_params(m) == count and len(m.state_dict()) == entries and names_digest(m) == digest

@pytest.mark.parametrize('cfg', [BACKBONES['cspnext_t'][0], BACKBONES['p6_dw'][0], RTMPOSE_T_HEAD, HEADS['rel_bias'][0]])
def test_state_dict_round_trip(cfg):
    torch.manual_seed(0); a = MODELS.build(cfg).eval()
    torch.manual_seed(1); b = MODELS.build(cfg).eval()
    assert load_checkpoint(b, a.state_dict(), strict=True) == ([], [], [])
    x = head_input(cfg) if cfg['type'] == 'RTMCCHead' else torch.randn(1, 3, 64, 64)
    with torch.no_grad(): assert all(torch.equal(p, q) for p, q in zip(a(x), b(x)))

def test_mmpose_checkpoint_prefix_round_trip(tmp_path):
    backbone, head = MODELS.build(BACKBONES['cspnext_s'][0]), MODELS.build(RTMPOSE_T_HEAD)
    sd = {**{f'backbone.{k}': v for k, v in backbone.state_dict().items()}, **{f'head.{k}': v for k, v in head.state_dict().items()}}
    torch.save({'meta': {}, 'state_dict': sd}, tmp_path/'rtmpose.pth')
    b = MODELS.build(dict(BACKBONES['cspnext_s'][0], init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'rtmpose.pth'), prefix='backbone.')))
    h = MODELS.build(dict(RTMPOSE_T_HEAD, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path/'rtmpose.pth'), prefix='head.')))
    assert all(torch.equal(v, sd[f'backbone.{k}']) for k, v in b.state_dict().items())
    assert all(torch.equal(v, sd[f'head.{k}']) for k, v in h.state_dict().items())
    with pytest.raises(PoseaiError, match='mismatched'): load_checkpoint(MODELS.build(BACKBONES['cspnext_t'][0]), sd, prefix='backbone.')

# Parity with MMPose: tests/data/make_mmpose_rtmpose.py (run with MMPose 1.3.2's python) built a tiny CSPNeXt + RTMCCHead and a GAU with
# relative position bias and RoPE, gave them seeded weights (int8s times powers of two, exact in float32) and saved what MMPose computed.
FIX = np.load(Path(__file__).parent/'data'/'mmpose_rtmpose.npz')
CONFIGS = json.loads(str(FIX['configs']))

def with_mmpose_weights(model, key):
    "`model` in eval mode with the fixture's weights for `key`, after checking that its state dict has MMPose's names and shapes, in order."
    assert names(model) == FIX[f'{key}_names'].item().decode()
    values, exponents, offset, sd = FIX[f'{key}_values'], FIX[f'{key}_exponents'], 0, {}
    for (k, v), e in zip(model.state_dict().items(), exponents):
        sd[k] = torch.from_numpy(values[offset:offset + v.numel()].astype(np.float32) * 2.0 ** -int(e)).view(v.shape).to(v.dtype)
        offset += v.numel()
    assert offset == len(values)
    model.load_state_dict(sd)
    return model.eval()

@pytest.fixture(scope='module')
def tiny_rtmpose():
    backbone = with_mmpose_weights(MODELS.build(CONFIGS['backbone']), 'backbone')
    head = with_mmpose_weights(MODELS.build(CONFIGS['head']), 'head')
    x = (torch.from_numpy(FIX['image']).float() - 128) / 64
    with torch.no_grad(): return backbone, head, backbone(x), backbone(x.flip(-1))

def test_backbone_and_head_outputs_match_mmpose(tiny_rtmpose):
    _, head, feats, _ = tiny_rtmpose
    assert len(feats) == 3
    for i, f in enumerate(feats): torch.testing.assert_close(f, torch.from_numpy(FIX[f'backbone_out{i}']), rtol=0, atol=1e-5)
    with torch.no_grad(): pred_x, pred_y = head(feats)
    torch.testing.assert_close(pred_x, torch.from_numpy(FIX['pred_x']), rtol=0, atol=1e-5)
    torch.testing.assert_close(pred_y, torch.from_numpy(FIX['pred_y']), rtol=0, atol=1e-5)

def test_predict_matches_mmpose(tiny_rtmpose):
    _, head, feats, feats_flip = tiny_rtmpose
    with torch.no_grad():
        keypoints, scores = head.predict(feats)
        keypoints_flip, scores_flip = head.predict((feats, feats_flip), flip_test=True, flip_indices=COCO_FLIP)
    assert keypoints.shape == (2, 17, 2) and keypoints.dtype == torch.float32 and scores.shape == (2, 17)
    torch.testing.assert_close(keypoints, torch.from_numpy(FIX['keypoints']), rtol=0, atol=1e-3)
    torch.testing.assert_close(scores, torch.from_numpy(FIX['scores']), rtol=0, atol=1e-5)
    torch.testing.assert_close(keypoints_flip, torch.from_numpy(FIX['keypoints_flip']), rtol=0, atol=1e-3)
    torch.testing.assert_close(scores_flip, torch.from_numpy(FIX['scores_flip']), rtol=0, atol=1e-5)
    assert not torch.equal(keypoints, keypoints_flip)

def test_gau_with_relative_bias_and_rope_matches_mmpose():
    gau = with_mmpose_weights(RTMCCBlock(**CONFIGS['gau']), 'gau')
    with torch.no_grad(): out = gau(torch.from_numpy(FIX['tokens']))
    torch.testing.assert_close(out, torch.from_numpy(FIX['gau_out']), rtol=0, atol=1e-5)

def test_simcc_pck_accuracy_matches_mmpose():
    pred_x, pred_y = FIX['pred_x'], FIX['pred_y']
    gt_x = np.stack([np.roll(pred_x[:, k], 3 * k, -1) for k in range(17)], 1)       # as the fixture script made it
    acc, avg_acc, cnt = simcc_pck_accuracy((pred_x, pred_y), (gt_x, pred_y), 2.0, FIX['mask'])
    np.testing.assert_array_equal(acc, FIX['acc']); assert avg_acc == FIX['avg_acc'] and cnt == FIX['cnt']

def test_predict_is_decode_of_forward_and_flip_averages():
    head = MODELS.build(RTMPOSE_T_HEAD).eval()
    feats, feats_flip = head_input(RTMPOSE_T_HEAD), head_input(RTMPOSE_T_HEAD)
    with torch.no_grad():
        (x, y), (fx, fy) = head(feats), flip_vectors(*head(feats_flip), COCO_FLIP)
        keypoints, scores = head.predict(feats)
        keypoints_flip, _ = head.predict((feats, feats_flip), flip_test=True, flip_indices=COCO_FLIP)
    assert torch.equal(keypoints, torch.stack((x.argmax(-1), y.argmax(-1)), -1) / 2.)
    assert torch.equal(scores, torch.minimum(x.amax(-1), y.amax(-1)))
    assert torch.equal(keypoints_flip, torch.stack((((x + fx) / 2).argmax(-1), ((y + fy) / 2).argmax(-1)), -1) / 2.)

@pytest.mark.parametrize('cfg', [dict(type='CSPNeXt', arch='P7'), dict(type='CSPNeXt', out_indices=(5,)), dict(type='CSPNeXt', arch='P6', out_indices=(6,)),
                                 dict(type='CSPNeXt', frozen_stages=5), dict(type='CSPNeXt', conv_cfg=dict(type='DCN')), dict(type='CSPNeXt', act_cfg=dict(type='GELUU')),
                                 dict(type='CSPNeXt', init_cfg=dict(type='Normal', std=0.01)), dict(RTMPOSE_T_HEAD, in_channels=[384, 192]),
                                 dict(RTMPOSE_T_HEAD, decoder=dict(type='SimCCLabel', input_size=(192, 256), decode_beta=150.)),
                                 dict(RTMPOSE_T_HEAD, gau_cfg=dict(act_fn='GELU')), dict(RTMPOSE_T_HEAD, init_cfg=dict(type='Kaiming'))])
def test_bad_arguments_raise(cfg):
    with pytest.raises(PoseaiError): MODELS.build(cfg)

def test_bad_calls_raise():
    head = MODELS.build(RTMPOSE_T_HEAD).eval()
    feats = head_input(RTMPOSE_T_HEAD, batch=1)
    with pytest.raises(PoseaiError, match='in_featuremap_size'): head((torch.randn(1, 384, 6, 8),))          # h and w swapped
    with pytest.raises(PoseaiError, match='flip_indices'): head.predict((feats, feats), flip_test=True)
    with pytest.raises(PoseaiError, match='mirrored input'): head.predict(feats[0], flip_test=True, flip_indices=COCO_FLIP)
    with pytest.raises(PoseaiError, match='decoder'): MODELS.build(dict(RTMPOSE_T_HEAD, decoder=None)).predict(feats)
    with pytest.raises(PoseaiError, match='self-attn'): RTMCCBlock(17, 8, 8, attn_type='cross-attn')

def test_frozen_stages_and_norm_eval():
    m = CSPNeXt(deepen_factor=0.167, widen_factor=0.375, frozen_stages=2, norm_eval=True).train()
    assert {n.split('.')[0] for n, p in m.named_parameters() if not p.requires_grad} == {'stem', 'stage1', 'stage2'}
    assert not m.stage2.training and m.stage3.training and not m.stage3[0].bn.training
    m0 = CSPNeXt(deepen_factor=0.167, widen_factor=0.375, frozen_stages=0).train()
    assert {n.split('.')[0] for n, p in m0.named_parameters() if not p.requires_grad} == {'stem'} and m0.stage3[0].bn.training

def test_init_follows_mmpose():
    torch.manual_seed(0)
    m = CSPNeXt(deepen_factor=0.167, widen_factor=0.375)
    for conv in (m.stage3[0].conv, m.stage4[2].blocks[0].conv2.depthwise_conv.conv):       # Kaiming-uniform, a=sqrt(5), fan in: bound 1/sqrt(fan_in)
        bound = conv.weight[0].numel() ** -0.5
        assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
    assert not m.stage4[2].attention.fc.bias.any()
    plain = CSPNeXt(deepen_factor=0.167, widen_factor=0.375, init_cfg=None).stage4[0].conv.weight      # mmcv ConvModule: Kaiming-normal, fan out
    assert abs(plain.std().item() * (plain.shape[0] * 9 / 2) ** 0.5 - 1) < 0.05
    head = MODELS.build(RTMPOSE_T_HEAD)
    assert abs(head.final_layer.weight.std().item() - 0.001) < 1e-4 and not head.final_layer.bias.any()
    for lin in (head.mlp[1], head.gau.uv, head.gau.o, head.cls_x, head.cls_y): assert abs(lin.weight.std().item() - 0.01) < 1e-3
    assert torch.equal(head.gau.res_scale.scale, torch.ones(256)) and 0 <= head.gau.gamma.min() and head.gau.gamma.max() < 1

def test_drop_path_and_dropout_only_in_training():
    cfg = dict(HEADS['rel_bias'][0], gau_cfg=dict(HEADS['rel_bias'][0]['gau_cfg'], drop_path=0.5, dropout_rate=0.5))
    head, feats = MODELS.build(cfg), head_input(cfg, batch=4)
    with torch.no_grad():
        assert torch.equal(head.eval()(feats)[0], head(feats)[0])
        head.train(); torch.manual_seed(0); a = head(feats)[0]; torch.manual_seed(1); b = head(feats)[0]
    assert not torch.equal(a, b)

def test_registered_under_mmpose_names():
    assert MODELS.get('CSPNeXt') is CSPNeXt and MODELS.get('RTMCCHead') is RTMCCHead
