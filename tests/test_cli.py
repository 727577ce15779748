"The `poseai` command as a new user meets it (issue 17): one-line errors, results alone on stdout, help for every option, training summaries, files with the umask's mode."
import argparse, json, os, shutil, subprocess, sys, warnings
from pathlib import Path
import pytest, torch
import poseai
from poseai.cli import main, run_summary, _parser, BBOXES_HELP, COMMANDS
from poseai.estimators import build_pose_estimator, save_pose_checkpoint
from poseai.inference import JsonListFile
from poseai.learner import tiny_pose_config
from poseai.synthetic import make_synthetic_coco

BENCH = Path(poseai.__file__).resolve().parent.parent / 'bench'

@pytest.fixture(scope='module')
def made(tmp_path_factory):
    "Four synthetic COCO images, a tiny untrained checkpoint and a 2-epoch run config over the images, in one folder."
    d = tmp_path_factory.mktemp('cli')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ann = make_synthetic_coco(d / 'data', n_images=4, seed=0)
    torch.manual_seed(0)
    ckpt = save_pose_checkpoint(build_pose_estimator(tiny_pose_config()), d / 'tiny.pth')
    data = dict(type='CocoDataset', ann_file=str(ann), data_prefix=dict(img=str(ann.parent)))
    (d / 'run.json').write_text(json.dumps(dict(model=tiny_pose_config(), train=data, valid=data, input_size=(96, 128), bs=4, epochs=2, device='cpu')))
    return d, ann, ckpt

def run(capsys, *args):
    "`main(args)`'s exit status, stdout and stderr."
    try: status = main([str(a) for a in args])
    except SystemExit as e: status = e.code
    out, err = capsys.readouterr()
    return status, out, err

def command(*args, cwd=None, **env):
    "The `poseai` command run in a fresh process (as the console script runs `main`), with `env` added to the environment."
    code = 'import sys; from poseai.cli import main; sys.exit(main())'
    return subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, cwd=cwd, env={**os.environ, **env}, timeout=300)

def one_error_line(err, *words):
    "Assert that `err` is one `poseai: error:` line holding each of `words`."
    assert err.startswith('poseai: error: ') and err.count('\n') == 1 and 'Traceback' not in err, err
    for w in words: assert w in err, (w, err)

# Mistakes get one line, not a traceback

def test_a_gpu_that_is_not_there_is_one_line(made, capsys, monkeypatch):
    d, ann, ckpt = made
    proc = command('infer', ckpt, d / 'data/images', '--device', 'cuda', CUDA_VISIBLE_DEVICES='')   # a machine without a GPU
    assert proc.returncode == 1 and proc.stdout == ''
    one_error_line(proc.stderr.splitlines(keepends=True)[-1], "device 'cuda'", 'no CUDA GPU')
    assert 'Traceback' not in proc.stderr and len(proc.stderr.splitlines()) <= 2, proc.stderr   # the note on boxes, the error
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for args in (('test', ckpt, ann, '--device', 'cuda'), ('train', d / 'run.json', '--device', 'cuda:1', '--work-dir', d / 'no_gpu')):
        status, out, err = run(capsys, *args)
        assert status == 1 and out == ''
        one_error_line(err, 'no CUDA GPU')
    assert not (d / 'no_gpu/models').exists()

def test_a_json_that_is_no_checkpoint_is_named_in_one_short_line(made, capsys):
    d, ann, _ = made
    status, out, err = run(capsys, 'export', ann, d / 'x.onnx')
    assert status == 1 and len(err) < 300 and not (d / 'x.onnx').exists()
    one_error_line(err, 'annotations.json', 'not a checkpoint')

def test_an_image_given_as_checkpoint_is_called_so(made, capsys):
    d, _, _ = made
    img = d / 'data/images/000001.jpg'
    status, out, err = run(capsys, 'infer', img, img, '--out', d / 'infer_bad')
    assert status == 1
    one_error_line(err.splitlines(keepends=True)[-1], '000001.jpg', 'not a checkpoint (.pth')
    assert 'config file is' not in err

@pytest.mark.skipif(not BENCH.is_dir(), reason='bench/ is in a source checkout only')
def test_bench_help_describes_the_benchmark(capsys):
    status, out, err = run(capsys, 'bench', 'pipeline', '--help')
    assert status == 0 and 'Usage: python bench/pipeline.py' in out and 'Traceback' not in err, (out, err)
    status, out, err = run(capsys, 'bench', '--help')
    assert status == 0 and 'pipeline' in out and 'train' in out   # the benchmarks are listed

@pytest.mark.skipif(not BENCH.is_dir(), reason='bench/ is in a source checkout only')
def test_bench_train_refuses_a_cpu(capfd, monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')   # no GPU for the benchmark's process
    assert main(['bench', 'train']) != 0
    out, err = capfd.readouterr()
    assert 'GPU' in err and '24 GB' in err and 'Traceback' not in err, err
    assert 'img/s' not in out   # nothing was timed

def test_export_refuses_unknown_suffixes(made, capsys):
    d, _, ckpt = made
    status, out, err = run(capsys, 'export', ckpt, d / 'x.tflite')
    assert status == 1 and not (d / 'x.tflite').exists() and not list(d.glob('.x.tflite*'))
    one_error_line(err, 'x.tflite', '.onnx', '.pt2', '.pt (torchscript)')
    status, out, err = run(capsys, 'export', ckpt, d / 'x.onnx', '--format', 'torchscript')
    assert status == 1
    one_error_line(err, '.onnx is the suffix of onnx')

def test_user_errors_are_one_line_and_unexpected_ones_keep_their_traceback(made, capsys, monkeypatch):
    d, _, _ = made
    status, out, err = run(capsys, 'train', d / 'missing.json')
    assert status == 1
    one_error_line(err, 'missing.json')
    status, out, err = run(capsys, 'fly')
    assert status == 2 and 'invalid choice' in err   # a usage error: argparse's
    def bug(a, bars): raise ZeroDivisionError('a bug')
    monkeypatch.setitem(COMMANDS, 'export', bug)
    with pytest.raises(ZeroDivisionError): main(['export', 'a.pth', 'b.onnx'])

# Scriptable output

def test_test_writes_json_alone_to_stdout_and_a_clean_log_to_stderr(made):
    d, ann, ckpt = made
    proc = command('test', ckpt, ann, '--img-dir', ann.parent, '--device', 'cpu', '--no-flip')
    assert proc.returncode == 0, proc.stderr
    assert 0 <= json.loads(proc.stdout)['AP'] <= 1   # `poseai test ... > metrics.json` is valid JSON
    assert '\r' not in proc.stderr and '█' not in proc.stderr, repr(proc.stderr)   # no bar fragments in a redirected log
    assert 'FutureWarning' not in proc.stderr and 'torch.jit.script' not in proc.stderr, proc.stderr
    quiet = command('--quiet', 'infer', ckpt, ann.parent / 'images', '--out', d / 'quiet', '--device', 'cpu', '--no-flip')
    assert quiet.returncode == 0 and quiet.stderr == '', quiet.stderr
    assert json.loads(quiet.stdout)['frames'] == 4

@pytest.mark.skipif(not hasattr(os, 'openpty'), reason='needs a pseudo-terminal')
def test_on_a_terminal_the_bars_are_drawn_on_stderr(made):
    d, ann, ckpt = made
    terminal, stderr = os.openpty()
    code = 'import sys; from poseai.cli import main; sys.exit(main())'
    args = ('test', ckpt, ann, '--img-dir', ann.parent, '--device', 'cpu', '--no-flip', '--batch-size', 2)
    proc = subprocess.run([sys.executable, '-c', code, *map(str, args)],
                          stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=300)
    os.close(stderr)
    drawn = b''
    while True:
        try: chunk = os.read(terminal, 65536)
        except OSError: break   # the terminal's other end is closed
        if not chunk: break
        drawn += chunk
    os.close(terminal)
    assert proc.returncode == 0 and 0 <= json.loads(proc.stdout)['AP'] <= 1   # stdout still holds the JSON alone
    assert '| 100.00% [' in drawn.decode(errors='replace'), drawn[-300:]   # the bar over the batches, drawn in place

def test_version(capsys):
    status, out, err = run(capsys, '--version')
    assert status == 0 and out.strip() == f'poseai {poseai.__version__}'

def test_every_option_of_every_command_has_help_and_shows_its_default():
    sub = next(a for a in _parser()._actions if a.dest == 'command')
    assert set(sub.choices) == set(COMMANDS)
    for name, parser in sub.choices.items():
        text = ' '.join(parser.format_help().split())
        for action in parser._actions:
            assert action.help, (name, action.dest)
            if action.option_strings and action.default not in (None, False, '', argparse.SUPPRESS) and isinstance(action.default, (int, float, str)):
                assert f'(default: {action.default})' in text, (name, action.dest)
    assert all(s in BBOXES_HELP for s in ('x1, y1, x2, y2, score', 'image_id', '[x, y, w, h]', 'whole image'))

def test_infer_without_boxes_says_so_and_skip_bad_goes_on(made, capsys):
    d, ann, ckpt = made
    folder = d / 'with_bad'; folder.mkdir()
    shutil.copy(ann.parent / 'images/000001.jpg', folder / 'a.jpg'); (folder / 'b.jpg').write_bytes(b'not a JPEG')
    status, out, err = run(capsys, 'infer', ckpt, folder, '--out', d / 'bad', '--device', 'cpu', '--no-flip')
    assert status == 1 and 'whole image' in err
    one_error_line(err.splitlines(keepends=True)[-1], 'b.jpg', '--skip-bad')
    status, out, err = run(capsys, 'infer', ckpt, folder, '--out', d / 'bad', '--device', 'cpu', '--no-flip', '--skip-bad')
    summary = json.loads(out)
    assert status == 0 and summary['frames'] == 1 and len(summary['skipped']) == 1 and summary['skipped'][0].startswith('b.jpg')
    assert err.splitlines()[-1].startswith('skipped 1 unreadable image(s): b.jpg')

def test_test_without_img_dir_suggests_it(made, capsys):
    d, ann, ckpt = made
    status, out, err = run(capsys, 'test', ckpt, ann, '--device', 'cpu')   # image paths are relative to ann's folder, not the current one
    assert status == 1
    one_error_line(err, 'images/000001.jpg', 'pass --img-dir')

# Training runs

def test_train_ends_with_a_summary_and_resume_says_what_it_does(made, capsys):
    d, _, _ = made
    work = d / 'work'
    status, out, err = run(capsys, 'train', d / 'run.json', '--work-dir', work, '--resume')   # nothing there yet
    assert status == 1 and not work.exists()
    one_error_line(err, 'pose_last.pth', 'nothing to resume')
    status, out, err = run(capsys, 'train', d / 'run.json', '--work-dir', work)
    assert status == 0 and 'train_loss' in err and '\r' not in err
    best, last = out.splitlines()
    assert best.startswith('best: AP ') and 'of 2 epochs' in best and best.endswith(str(work / 'models/pose_best.pth'))
    assert last.startswith('last: AP ') and 'after 2 of 2 epochs' in last and str(work / 'models/pose_last.pth') in last
    stamp = (work / 'models/pose_last.pth').stat().st_mtime_ns
    status, out, err = run(capsys, 'train', d / 'run.json', '--work-dir', work, '--resume')
    assert status == 0 and 'is finished (2 epochs): nothing to train' in out and (work / 'models/pose_last.pth').stat().st_mtime_ns == stamp
    # a best checkpoint better than anything the next epoch reaches stays the best after a resume
    saved = torch.load(work / 'models/pose_best.pth', weights_only=False)
    model = build_pose_estimator(saved['config']); model.load_state_dict(saved['state_dict'])
    save_pose_checkpoint(model, work / 'models/pose_best.pth', dict(saved['meta'], epoch=0, metrics=dict(saved['meta']['metrics'], AP=0.99)))
    status, out, err = run(capsys, 'train', d / 'run.json', '--work-dir', work, '--resume', '--epochs', 3)
    assert status == 0
    assert 'resuming after epoch 2 of 3: the run was started for 2 epochs; its one_cycle learning-rate schedule is laid over 3 epochs' in err
    assert out.splitlines() == [f'best: AP 0.990 after 1 of 3 epochs: {work}/models/pose_best.pth',
                                out.splitlines()[1]] and 'after 3 of 3 epochs' in out.splitlines()[1]

def test_run_summary_reports_the_best_and_the_last_epoch(tmp_path):
    model = build_pose_estimator(tiny_pose_config())
    (tmp_path / 'run.json').write_text(json.dumps(dict(epochs=10)))
    save_pose_checkpoint(model, tmp_path / 'models/pose_best.pth', dict(epoch=7, metrics=dict(AP=0.302), monitor='AP'))
    save_pose_checkpoint(model, tmp_path / 'models/pose_last.pth', dict(epoch=9, metrics=dict(AP=0.294), monitor='AP'))
    assert run_summary(tmp_path).splitlines() == [f'best: AP 0.302 after 8 of 10 epochs: {tmp_path}/models/pose_best.pth',
                                                 f'last: AP 0.294 after 10 of 10 epochs: {tmp_path}/models/pose_last.pth (--resume continues from it)']

@pytest.mark.parametrize('mask', [0o022, 0o027, 0o002])
def test_checkpoints_exports_and_json_lists_get_the_umasks_mode(made, capsys, umask, tmp_path, mask):
    _, _, ckpt = made
    umask(mask)
    status, out, err = run(capsys, 'export', ckpt, tmp_path / 'model.pt')
    assert status == 0 and out.strip() == str(tmp_path / 'model.pt')
    save_pose_checkpoint(build_pose_estimator(tiny_pose_config()), tmp_path / 'model.pth')
    frames = JsonListFile(tmp_path / 'frames.json'); frames.append(dict(frame_id=0)); frames.close()
    for name in ('model.pt', 'model.pth', 'frames.json'):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, (name, oct((tmp_path / name).stat().st_mode))

def test_demo_ends_with_the_score_of_the_checkpoint_it_points_to(tmp_path, capsys):
    status, out, err = run(capsys, 'demo', '--out', tmp_path, '--images', 4, '--minutes', 0.001)   # one epoch
    assert status == 0
    best = torch.load(tmp_path / 'work_dir/models/pose_best.pth', weights_only=False)['meta']
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"the best checkpoint (after {best['epoch'] + 1} of ") and f"scores AP {best['metrics']['AP']:.3f}" in last_line
    assert "AP is COCO's keypoint average precision" in last_line
    assert json.loads((tmp_path / 'metrics.json').read_text())['best_epoch']['AP'] == best['metrics']['AP']

# `poseai data NAME`: the tutorial data's folder alone on stdout, found or downloaded
from poseai.data.download import TUTORIAL_DATA
from test_download import server, places, zip_entry, lsp_zip

def test_data_prints_the_folder_it_finds_or_downloads(server, places, capsys, monkeypatch):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-lsp', zip_entry(server, lsp_zip()))   # served on 127.0.0.1
    folder = places / 'cache' / 'data' / 'tiny-lsp'
    assert run(capsys, 'data', 'tiny-lsp') == (0, f'{folder}\n', '')   # downloaded; not on a terminal, so no progress line in a log
    assert (folder / 'joints.mat').is_file() and len(server.requests) == 1
    assert run(capsys, 'data', 'tiny-lsp') == (0, f'{folder}\n', '') and len(server.requests) == 1   # then found in the cache
    own = places / 'own'; (own / 'lsp').mkdir(parents=True); (own / 'lsp' / 'joints.mat').write_bytes(b'')
    monkeypatch.setenv('POSEAI_DATA', str(own))
    assert run(capsys, 'data', 'lsp') == (0, f'{own / "lsp"}\n', '')   # a copy of the user's own comes first
    status, out, err = run(capsys, 'data', 'mpii')
    assert status == 2 and "invalid choice: 'mpii'" in err
