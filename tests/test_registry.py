"Every part is registered whatever was imported: a fresh interpreter importing only what the command line imports finds every registered type, and `PART_MODULES` lists every module that registers one."
import functools, json, re, subprocess, sys
from pathlib import Path
import poseai
from poseai.registry import PART_MODULES

PACKAGE = Path(poseai.__file__).parent

def run_python(code):
    "The JSON that `code`, run in a fresh interpreter, prints on its last line."
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])

REGISTRIES = '''
import json, poseai.all as everything
from poseai.registry import Registry
found = {}
for module in everything._modules:
    for attr, value in vars(module).items():
        if isinstance(value, Registry) and value.name not in found:
            found[value.name] = dict(module=module.__name__, attr=attr, types={k: c.__module__ for k, c in value._classes.items()})
print(json.dumps(found))
'''

@functools.cache
def registered_by_all():
    "`{registry name: (module, attribute, {type: module of its class})}` of every registry after `import poseai.all`."
    return run_python(REGISTRIES)

def test_every_registered_type_is_found_through_the_cli_imports():
    "After `import poseai.cli` alone (what the `poseai` command imports), every type that `poseai.all` registers can be looked up."
    registries = registered_by_all()
    assert {'models', 'keypoint codecs', 'metrics'} <= set(registries), registries.keys()
    assert {'CSPNeXt', 'RTMCCHead', 'LiteHRNet', 'MSPN', 'RSN', 'ResNeSt', 'SCNet', 'RegNet', 'TimmBackbone'} <= set(registries['models']['types'])
    wanted = {name: (r['module'], r['attr'], sorted(r['types'])) for name, r in registries.items()}
    missing = run_python(f'''
import importlib, json, sys
import poseai.cli
missing = []
for module, attr, types in {wanted!r}.values():
    registry = getattr(importlib.import_module(module), attr)
    for name in types:
        try: registry.get(name)
        except Exception as e: missing.append(f'{{module}}.{{attr}}: {{e}}')
print(json.dumps(missing))
''')
    assert missing == []

RTMPOSE = dict(type='TopdownPoseEstimator', backbone=dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.375, out_indices=(4,)),
               head=dict(type='RTMCCHead', in_channels=384, out_channels=17, input_size=(96, 128), in_featuremap_size=(3, 4), final_layer_kernel_size=7,
                         gau_cfg=dict(hidden_dims=64, s=32, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
                         loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
                         decoder=dict(type='SimCCLabel', input_size=(96, 128), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False)),
               test_cfg=dict(flip_test=True), metainfo='coco')

def test_an_rtmpose_config_builds_through_the_cli_imports():
    "An RTMPose config (CSPNeXt + RTMCCHead, SimCC codec, KL loss) builds and predicts after `import poseai.cli` alone."
    shapes = run_python(f'''
import json, torch
import poseai.cli
from poseai.estimators import build_pose_estimator
model = build_pose_estimator({RTMPOSE!r}).eval()
x = torch.randn(2, 3, 128, 96)
keypoints, scores = model.predict(x)
print(json.dumps([type(model.backbone).__name__, type(model.head).__name__, [list(o.shape) for o in model(x)], list(keypoints.shape), list(scores.shape)]))
''')
    assert shapes == ['CSPNeXt', 'RTMCCHead', [[2, 17, 192], [2, 17, 256]], [2, 17, 2], [2, 17]]

def modules_registering_in_source():
    "The `poseai` modules whose code registers a class (`X.register_module(`), the registry itself aside."
    return {p.stem for p in PACKAGE.glob('*.py') if p.stem != 'registry' and re.search(r'\.register_module\(', p.read_text())}

def test_part_modules_lists_every_module_that_registers():
    "`PART_MODULES` is exactly the modules that register classes, read from the code and from the registries `poseai.all` fills: a new module cannot be forgotten."
    assert modules_registering_in_source() == set(PART_MODULES)
    homes = {module for r in registered_by_all().values() for module in r['types'].values()}
    allowed = {f'poseai.{m}' for m in PART_MODULES} | {'poseai.registry'}   # the registry module registers MMPose 0.x's names itself (its aliases)
    assert homes <= allowed, homes - allowed

def test_a_misspelt_name_gets_the_closest_of_every_part():
    "A misspelt type, after the parts are imported, gets the registered names closest to it."
    missing = run_python('''
import json
from poseai.registry import MODELS
try: MODELS.get('CSPNext')
except Exception as e: print(json.dumps(str(e)))
''')
    assert "'CSPNext' is not registered (did you mean 'CSPNeXt'" in missing
