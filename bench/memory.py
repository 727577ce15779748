"""Peak memory (RSS) of long inference runs: it must not grow with the number of people or frames.

Usage: python bench/memory.py [N_CROPS] [N_FRAMES]

(a) crops: one `inference_topdown` call on a synthetic 640x480 image with N_CROPS boxes (default 10,000);
(b) video: `PoseInferencer` over a synthetic N_FRAMES-frame 160x120 mp4 (default 1,000), writing the drawn mp4 and the JSON.
Tiny model (`tiny_pose_config`, random weights), CPU, flip test on. Each part runs in its own process, so that each peak is its
own; the peak RSS (`resource.getrusage`) is printed after 10%, 50% and 100% of the people (counted by the model's forward passes)
or frames, with the growth from 10% to 100% and, for crops, the peak above the process before the call.
The last line is `memory: crops_peak_mb=... video_peak_mb=... growth_mb=...`; growth is the larger of what the crops call needs above
the process before it (all crops cut at once would show here) and the video's growth from 10% to 100% of the frames.
"""
import json, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, torch, cv2

def peak_mb():
    "This process's peak resident memory so far, in MB (Linux reports KB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

class Milestones:
    "Record the peak RSS when `done` passes 10%, 50% and 100% of `total`."
    def __init__(self, total): self.total, self.marks = total, {}
    def update(self, done):
        for pct in (10, 50, 100):
            if pct not in self.marks and done >= pct / 100 * self.total: self.marks[pct] = peak_mb()

def tiny_model():
    from poseai.learner import tiny_pose_config
    from poseai.estimators import build_pose_estimator
    torch.manual_seed(0)
    return build_pose_estimator(tiny_pose_config()).eval()

def crops(n):
    "Peak RSS of one `inference_topdown` call over `n` boxes, at 10/50/100% of the crops predicted."
    from poseai.inference import inference_topdown
    model, rng = tiny_model(), np.random.default_rng(0)
    img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    xy = rng.uniform(0, 500, (n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(40, 140, (n, 2)).astype(np.float32)], 1)
    inference_topdown(model, img, boxes[:64])   # warm-up: the model's own memory is not growth
    before, marks, done = peak_mb(), Milestones(n), [0]
    def count(module, args): done[0] += len(args[0]) / 2; marks.update(done[0])   # flip test: two passes per batch
    model.register_forward_pre_hook(count)
    start = time.perf_counter()
    results = inference_topdown(model, img, boxes)
    assert len(results) == n
    return dict(marks=marks.marks, before=before, seconds=time.perf_counter() - start)

def video(n):
    "Peak RSS of `PoseInferencer` over an `n`-frame synthetic video, at 10/50/100% of the frames, writing its outputs."
    from poseai.inference import PoseInferencer
    folder, rng = Path(tempfile.mkdtemp()), np.random.default_rng(0)
    path = folder / 'synthetic.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 30, (160, 120))
    for i in range(n): writer.write(np.roll(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), i, 1))
    writer.release()
    inferencer, marks = PoseInferencer(tiny_model(), device='cpu', progress=False), Milestones(n)
    start, frames = time.perf_counter(), 0
    for _ in inferencer(path, out_dir=folder / 'out'):
        frames += 1; marks.update(frames)
    assert frames == n and json.loads((folder / 'out/predictions/synthetic.json').read_text())[-1]['frame_id'] == n - 1
    return dict(marks=marks.marks, before=None, seconds=time.perf_counter() - start)

def report(name, r):
    "Print a part's figures; its peak and its growth (above the process before the call if measured, else from 10% to 100%)."
    m = r['marks']
    above = '' if r['before'] is None else f", {m[100] - r['before']:.0f} MB above the process before the call ({r['before']:.0f} MB)"
    print(f"{name}: peak RSS {m[10]:.0f} / {m[50]:.0f} / {m[100]:.0f} MB after 10 / 50 / 100%, growth {m[100] - m[10]:.1f} MB{above}; {r['seconds']:.1f} s")
    return m[100], m[100] - (m[10] if r['before'] is None else r['before'])

if __name__ == '__main__':
    if sys.argv[1:2] in (['--crops'], ['--video']):   # one part, in its own process
        print(json.dumps((crops if sys.argv[1] == '--crops' else video)(int(sys.argv[2]))))
        sys.exit()
    n_crops, n_frames = (int(a) for a in (sys.argv[1:] + ['10000', '1000'][len(sys.argv) - 1:])[:2])
    part = lambda flag, n: json.loads(subprocess.run([sys.executable, __file__, flag, str(n)], check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    crops_peak, crops_growth = report(f'{n_crops} crops', {**(r := part('--crops', n_crops)), 'marks': {int(k): v for k, v in r['marks'].items()}})
    video_peak, video_growth = report(f'{n_frames}-frame video', {**(r := part('--video', n_frames)), 'marks': {int(k): v for k, v in r['marks'].items()}})
    print(f'memory: crops_peak_mb={crops_peak:.0f} video_peak_mb={video_peak:.0f} growth_mb={max(crops_growth, video_growth):.1f}')
