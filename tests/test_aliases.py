"MMPose 0.x names (`TopDown`, `TopDownSimpleHead`, `JointsMSELoss`...) build the 1.x parts: a 0.x config loads an MMPose 1.x checkpoint and gives MMPose's outputs."
import numpy as np, pytest, torch
from conftest import data_file, load_model_arrays
from poseai.core import PoseaiError
from poseai.registry import MODELS, ALIASES_0X, translate_0x, model_config_0x
from poseai.metainfo import parse_pose_metainfo
from poseai.estimators import init_pose_model, save_pose_checkpoint, load_config
from test_estimators import reference

# tests/data/reference/models/td-hm_res18-tiny (an MMPose 1.x checkpoint, MANIFEST.json has its 1.x config) in 0.x words
TINY_0X = dict(type='TopDown', pretrained=None, backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
               keypoint_head=dict(type='TopDownSimpleHead', in_channels=128, out_channels=17, num_deconv_layers=3, num_deconv_filters=(32, 32, 32),
                                  num_deconv_kernels=(4, 4, 4), extra=dict(final_conv_kernel=1), loss_keypoint=dict(type='JointsMSELoss', use_target_weight=True)),
               train_cfg=dict(), test_cfg=dict(flip_test=True, post_process='default', shift_heatmap=True, modulate_kernel=11),
               data_cfg=dict(image_size=[192, 256], heatmap_size=[48, 64], num_output_channels=17, num_joints=17))
CHECKPOINT = ('reference', 'models', 'td-hm_res18-tiny.pth')

def test_0x_config_loads_the_1x_checkpoint_and_gives_mmposes_outputs():
    "The 0.x config builds, loads MMPose's 1.x checkpoint strictly, and its heatmaps (raw and flip-tested) are MMPose's; its keypoints those of the 1.x config's model."
    model = init_pose_model(TINY_0X, data_file(*CHECKPOINT))
    ref = load_model_arrays(data_file('reference', 'models', 'td-hm_res18-tiny.npz'))
    x, flip_indices = torch.from_numpy(ref['input']), parse_pose_metainfo('coco')['flip_indices']
    with torch.no_grad(): heatmaps, fused = model(x), model.fused_outputs(x, flip_indices=flip_indices)
    np.testing.assert_allclose(heatmaps.numpy(), ref['heatmaps'], atol=1e-4, rtol=0)
    np.testing.assert_allclose(fused.numpy(), ref['heatmaps_flip_test'], atol=1e-4, rtol=0)
    kpts, scores = model.predict(x, flip_indices=flip_indices)
    np.testing.assert_allclose(scores.numpy(), ref['scores'], atol=1e-4, rtol=0)
    est_1x = reference('td-hm_res18-tiny')[0]
    assert model.state_dict().keys() == est_1x.state_dict().keys()
    torch.testing.assert_close(kpts, est_1x.predict(x)[0], atol=0, rtol=0)

def test_0x_config_is_saved_and_rebuilds(tmp_path):
    "A checkpoint of the 0.x-built model keeps its 1.x translation and rebuilds the same model."
    model = init_pose_model(TINY_0X, data_file(*CHECKPOINT))
    again = init_pose_model(save_pose_checkpoint(model, tmp_path / 'm.pth'))
    assert again.config == model.config == translate_0x(TINY_0X) and again.config['type'] == 'TopdownPoseEstimator'
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()): assert torch.equal(a, b), k

def test_topdown_translation():
    cfg = translate_0x(dict(TINY_0X, pretrained='torchvision://resnet18'))
    assert cfg['type'] == 'TopdownPoseEstimator' and cfg['test_cfg'] == dict(flip_test=True, shift_heatmap=True)
    assert cfg['backbone'] == dict(type='ResNet', depth=18, stem_channels=16, base_channels=16, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
    assert cfg['head']['type'] == 'HeatmapHead' and cfg['head']['loss'] == dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=1.)
    assert cfg['head']['decoder'] == dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2, blur_kernel_size=11, unbiased=False)
    dark = translate_0x(dict(TINY_0X, sigma=3, test_cfg=dict(post_process='unbiased', modulate_kernel=17)))['head']['decoder']
    assert (dark['unbiased'], dark['blur_kernel_size'], dark['sigma']) == (True, 17, 3)
    assert translate_0x(dict(TINY_0X, test_cfg=dict(use_udp=True)))['head']['decoder']['type'] == 'UDPHeatmap'
    assert 'decoder' not in translate_0x({k: v for k, v in TINY_0X.items() if k != 'data_cfg'})['head']   # no data_cfg: no sizes, no decoder

def test_topdown_simple_head_translation():
    head = translate_0x(TINY_0X['keypoint_head'])
    assert head == dict(type='HeatmapHead', in_channels=128, out_channels=17, deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4),
                        conv_out_channels=None, conv_kernel_sizes=None, final_layer=dict(kernel_size=1, padding=0),
                        loss=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=1.))
    hrnet = MODELS.build(dict(type='TopDownSimpleHead', in_channels=32, out_channels=17, num_deconv_layers=0, extra=dict(final_conv_kernel=3, num_conv_layers=1, num_conv_kernels=(3,))))
    assert isinstance(hrnet.deconv_layers, torch.nn.Identity) and hrnet.conv_layers[0].out_channels == 32
    assert (hrnet.final_layer.kernel_size, hrnet.final_layer.padding) == ((3, 3), (1, 1))
    assert hrnet.eval()((torch.zeros(1, 32, 8, 6),)).shape == (1, 17, 8, 6)

def test_loss_translations():
    assert translate_0x(dict(type='JointsMSELoss')) == dict(type='KeypointMSELoss', use_target_weight=False, loss_weight=1.)
    ohkm = MODELS.build(dict(type='JointsOHKMMSELoss', use_target_weight=True, topk=4, loss_weight=2.))
    assert (type(ohkm).__name__, ohkm.use_target_weight, ohkm.topk, ohkm.loss_weight) == ('KeypointOHKMMSELoss', True, 4, 2.)

@pytest.mark.parametrize('cfg, message', [
    (dict(TINY_0X, loss_pose=None), "entry 0.x alias TopDown: 'loss_pose' is not a 0.x argument that poseai translates"),
    (dict(TINY_0X, test_cfg=dict(flip_test=True, use_gt_bbox=True)), "entry 0.x alias TopDown: 'use_gt_bbox' is not a 0.x test_cfg entry that poseai translates"),
    (dict(TINY_0X, test_cfg=dict(post_process='megvii')), "entry 0.x alias TopDown: post_process 'megvii' is not translated"),
    (dict(TINY_0X, keypoint_head=dict(TINY_0X['keypoint_head'], input_transform='resize_concat')), "entry 0.x alias TopDownSimpleHead: 'input_transform' is not a 0.x argument"),
    (dict(TINY_0X, keypoint_head=dict(TINY_0X['keypoint_head'], extra=dict(final_conv_kernel=1, upsample=2))), "entry 0.x alias TopDownSimpleHead: 'upsample' is not a 0.x extra entry"),
    (dict(type='JointsMSELoss', size_average=False), "entry 0.x alias JointsMSELoss: 'size_average' is not a 0.x argument that poseai translates"),
])
def test_unknown_0x_arguments_are_one_line_errors(cfg, message):
    with pytest.raises(PoseaiError) as e: MODELS.build(cfg)
    assert message in str(e.value) and '\n' not in str(e.value)

def test_aliases_are_in_the_registry():
    assert {'TopDown', 'TopDownSimpleHead', 'JointsMSELoss', 'JointsOHKMMSELoss'} <= set(ALIASES_0X)
    for name in ALIASES_0X: assert name in MODELS and MODELS.get(name).__name__ == name
    assert 'TopDown' in MODELS.names()

def test_whole_0x_config_file_gives_topdown_its_data_cfg_and_sigma(tmp_path):
    "A 0.x config file (model, data_cfg, train_pipeline beside each other) read by `load_config`: `model_config_0x` gives `TopDown` the codec's sizes and sigma, and MMPose's checkpoint predicts MMPose's scores."
    model = {k: v for k, v in TINY_0X.items() if k != 'data_cfg'}
    (tmp_path / 'res18_tiny.py').write_text(f"model = {model!r}\ndata_cfg = {TINY_0X['data_cfg']!r}\n"
                                            "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='TopDownGenerateTarget', sigma=3)]\n")
    cfg = model_config_0x(load_config(tmp_path / 'res18_tiny.py'))
    assert (cfg['data_cfg'], cfg['sigma']) == (TINY_0X['data_cfg'], 3)
    est = init_pose_model(tmp_path / 'res18_tiny.py', data_file(*CHECKPOINT))   # the file as it is: init_pose_model calls model_config_0x
    assert est.config == translate_0x(cfg)
    assert (est.head.decoder.input_size, est.head.decoder.heatmap_size, est.head.decoder.sigma) == ((192, 256), (48, 64), 3)
    ref = load_model_arrays(data_file('reference', 'models', 'td-hm_res18-tiny.npz'))
    scores = est.predict(torch.from_numpy(ref['input']), flip_indices=parse_pose_metainfo('coco')['flip_indices'])[1]
    np.testing.assert_allclose(scores.numpy(), ref['scores'], atol=1e-4, rtol=0)
