"TimmBackbone: forwards, out_indices, parameter counts and weights against poseai's ResNet and timm itself, local checkpoints only, clear errors."
import sys, pytest, torch
timm = pytest.importorskip('timm', reason='timm is not installed (pip install "poseai[timm]"): TimmBackbone is optional')
from poseai.core import PoseaiError
from poseai.registry import MODELS
from poseai.backbones import ResNet, LoadReport, load_checkpoint
from poseai.timm_backbone import TimmBackbone

X = torch.randn(1, 3, 256, 192)
def n_params(m): return sum(p.numel() for p in m.parameters())
def shapes(outs): return [tuple(o.shape[1:]) for o in outs]

@pytest.mark.parametrize('name', ['resnet18', 'mobilenetv3_small_100'])
def test_forward_shapes_match_feature_info(name):
    m = MODELS.build(dict(type='TimmBackbone', model_name=name)).eval()
    with torch.no_grad(): outs = m(X)
    assert isinstance(outs, tuple) and m.strides == [2, 4, 8, 16, 32]
    assert shapes(outs) == [(c, 256 // s, 192 // s) for c, s in zip(m.out_channels, m.strides)]

def test_out_indices():
    m = TimmBackbone('mobilenetv3_small_100', out_indices=(2, 4)).eval()
    with torch.no_grad(): assert shapes(m(X)) == [(24, 32, 24), (576, 8, 6)]
    assert m.out_channels == [24, 576] and m.strides == [8, 32]
    with pytest.raises(PoseaiError, match='features_only'): TimmBackbone('resnet18', features_only=False, out_indices=(1,))
    with pytest.raises(PoseaiError, match='could not build'): TimmBackbone('resnet18', out_indices=(7,))

def test_resnet18_is_poseais_resnet18():
    ours = ResNet(18, out_indices=(0, 1, 2, 3)).eval()
    m = TimmBackbone('resnet18', out_indices=(1, 2, 3, 4)).eval()
    assert n_params(m) == n_params(ours) and [k[len('timm_model.'):] for k in m.state_dict()] == list(ours.state_dict())
    m.load_state_dict({f'timm_model.{k}': v for k, v in ours.state_dict().items()})
    with torch.no_grad(): assert all(torch.equal(a, b) for a, b in zip(m(X), ours(X)))

def test_param_count_is_the_classifier_without_its_head():
    full = timm.create_model('mobilenetv3_small_100')
    head = [full.conv_head, full.classifier]                 # timm's feature extractor stops before these
    assert n_params(TimmBackbone('mobilenetv3_small_100')) == n_params(full) - sum(n_params(h) for h in head)

def test_features_only_false_gives_the_last_map():
    m = TimmBackbone('resnet18', features_only=False).eval()
    with torch.no_grad(): assert shapes(m(X)) == [(512, 8, 6)]
    assert m.out_channels == [512] and m.strides == [32]

def test_state_dict_round_trip(tmp_path):
    src = TimmBackbone('mobilenetv3_small_100').eval()
    for v in src.state_dict().values():
        if v.is_floating_point(): v.uniform_(0.5, 1.5)
    path = tmp_path/'pose.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, path)
    dst = MODELS.build(dict(type='TimmBackbone', model_name='mobilenetv3_small_100', init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))).eval()
    with torch.no_grad(): assert all(torch.equal(a, b) for a, b in zip(src(X), dst(X)))
    assert load_checkpoint(TimmBackbone('mobilenetv3_small_100'), path, prefix='backbone.') == LoadReport([], [], [])
    with pytest.raises(PoseaiError, match='does not fit'): TimmBackbone('resnet18', init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))

def test_local_pretrained_and_own_checkpoints(tmp_path):
    full = timm.create_model('resnet18')
    torch.save(full.state_dict(), tmp_path/'resnet18.pth')
    m = TimmBackbone('resnet18', pretrained=True, checkpoint_path=str(tmp_path/'resnet18.pth'))
    assert all(torch.equal(v, full.state_dict()[k[len('timm_model.'):]]) for k, v in m.state_dict().items())
    torch.save(m.timm_model.state_dict(), tmp_path/'features.pth')
    own = TimmBackbone('resnet18', checkpoint_path=tmp_path/'features.pth')
    assert all(torch.equal(a, b) for a, b in zip(own.state_dict().values(), m.state_dict().values()))
    with pytest.raises(PoseaiError, match='could not build'): TimmBackbone('resnet18', checkpoint_path=tmp_path/'resnet18.pth')   # classifier keys: not this network's own state dict

def test_no_download_ever(tmp_path):
    with pytest.raises(PoseaiError, match='never downloads'): TimmBackbone('resnet18', pretrained=True)
    with pytest.raises(PoseaiError, match='not found'): TimmBackbone('resnet18', pretrained=True, checkpoint_path=tmp_path/'absent.pth')
    with pytest.raises(PoseaiError, match='True or False'): TimmBackbone('resnet18', pretrained='resnet18.pth')

def test_unknown_model_and_missing_timm(monkeypatch):
    with pytest.raises(PoseaiError, match='could not build'): TimmBackbone('no_such_net')
    monkeypatch.setitem(sys.modules, 'timm', None)          # import timm now raises ImportError
    with pytest.raises(PoseaiError, match=r'pip install "poseai\[timm\]"'): TimmBackbone('resnet18')
