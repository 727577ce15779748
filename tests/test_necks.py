"Necks: forward shapes, tuple in / tuple out, MMPose parameter names, bad configs."
import pytest, torch
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.necks import FPN, ChannelMapper, FeatureMapProcessor, GlobalAveragePooling

CHANNELS = [8, 16, 32, 64]

@pytest.fixture
def feats():
    return tuple(torch.randn(2, c, 64 // 2**i, 48 // 2**i) for i, c in enumerate(CHANNELS))

def shapes(outs): return [tuple(o.shape[1:]) for o in outs]

def test_global_average_pooling(feats):
    gap = MODELS.build(dict(type='GlobalAveragePooling'))
    out = gap(feats)
    assert isinstance(out, tuple) and shapes(out) == [(c,) for c in CHANNELS]
    torch.testing.assert_close(gap(feats[0]), feats[0].mean((2, 3)))
    with pytest.raises(PoseaiError): gap('not a tensor')

def test_feature_map_processor(feats):
    assert shapes(MODELS.build(dict(type='FeatureMapProcessor', select_index=0))(feats)) == [(8, 64, 48)]
    assert shapes(FeatureMapProcessor(select_index=(1, 0), concat=True)(feats)) == [(24, 32, 24)]
    assert shapes(FeatureMapProcessor(concat=True, scale_factor=0.5)(feats)) == [(120, 32, 24)]
    assert FeatureMapProcessor(apply_relu=True)(feats[0]).min() >= 0
    assert isinstance(FeatureMapProcessor()(list(feats)), tuple)
    with pytest.raises(PoseaiError): FeatureMapProcessor(scale_factor=-1)

def test_channel_mapper(feats):
    cm = MODELS.build(dict(type='ChannelMapper', in_channels=CHANNELS, out_channels=24, num_outs=5, norm_cfg=dict(type='BN')))
    out = cm(feats)
    assert isinstance(out, tuple) and shapes(out) == [(24, 64, 48), (24, 32, 24), (24, 16, 12), (24, 8, 6), (24, 4, 3)]
    assert {'convs.0.conv.weight', 'convs.0.bn.running_var', 'extra_convs.0.conv.weight'} <= set(cm.state_dict())
    assert 'convs.0.conv.bias' not in cm.state_dict()
    with pytest.raises(PoseaiError): cm(feats[:3])

@pytest.mark.parametrize('kw,expected', [
    (dict(num_outs=4), [(16, 64, 48), (16, 32, 24), (16, 16, 12), (16, 8, 6)]),
    (dict(num_outs=5), [(16, 64, 48), (16, 32, 24), (16, 16, 12), (16, 8, 6), (16, 4, 3)]),
    (dict(num_outs=5, add_extra_convs=True), [(16, 64, 48), (16, 32, 24), (16, 16, 12), (16, 8, 6), (16, 4, 3)]),
    (dict(num_outs=5, start_level=1, add_extra_convs='on_lateral'), [(16, 32, 24), (16, 16, 12), (16, 8, 6), (16, 4, 3), (16, 2, 2)]),
    (dict(num_outs=2, end_level=1), [(16, 64, 48), (16, 32, 24)]),
])
def test_fpn(feats, kw, expected):
    fpn = MODELS.build(dict(type='FPN', in_channels=CHANNELS, out_channels=16, **kw))
    out = fpn(feats)
    assert isinstance(out, tuple) and shapes(out) == expected
    assert 'lateral_convs.0.conv.weight' in fpn.state_dict() and 'fpn_convs.0.conv.bias' in fpn.state_dict()

def test_fpn_bad_config():
    with pytest.raises(PoseaiError): FPN(CHANNELS, 16, 3)
    with pytest.raises(PoseaiError): FPN(CHANNELS, 16, 4, add_extra_convs='on_top')
