"""Batched torch codecs (`encode_batch` + `decode_batch`) against the numpy per-sample path, MMPose's way, in one run.

Usage: python bench/codecs.py [--batch 256] [--rounds 5]

For each codec: 256 people x 17 COCO keypoints inside a 192x256 input (a tenth of them invisible) are encoded into training
targets and the targets decoded back to keypoints, (a) one person at a time with the numpy `encode`/`decode` (what MMPose
does in its data workers and post-processing), (b) as one batch with `encode_batch`/`decode_batch` on the CPU and, when
present, on the GPU (synchronised). Best of `--rounds`. Prints milliseconds per batch of 256 and the speed-up of each
batched path over the numpy loop; last line: `codecs: <codec>_<device>=<speed-up> ...`.
"""
import argparse, time
import numpy as np, torch
from poseai.heatmap_codecs import MSRAHeatmap, UDPHeatmap, MegviiHeatmap
from poseai.coord_codecs import RegressionLabel, IntegralRegressionLabel, SimCCLabel

INPUT, HEATMAP = (192, 256), (48, 64)
CODECS = dict(msra=MSRAHeatmap(INPUT, HEATMAP, sigma=2), dark=MSRAHeatmap(INPUT, HEATMAP, sigma=2, unbiased=True),
              udp=UDPHeatmap(INPUT, HEATMAP, sigma=2), udp_combined=UDPHeatmap(INPUT, HEATMAP, heatmap_type='combined'),
              megvii=MegviiHeatmap(INPUT, HEATMAP, kernel_size=11), regression=RegressionLabel(INPUT),
              integral=IntegralRegressionLabel(INPUT, HEATMAP, sigma=2), simcc=SimCCLabel(INPUT, sigma=6.),
              simcc_dark=SimCCLabel(INPUT, sigma=6., use_dark=True))

def decode_inputs(encoded):
    "What a codec's decoder takes from its encoder's output (stand-in for a head's output)."
    if 'keypoint_x_labels' in encoded: return encoded['keypoint_x_labels'], encoded['keypoint_y_labels']
    if 'keypoint_labels' in encoded: return (encoded['keypoint_labels'],)
    return (encoded['heatmaps'],)

def best_ms(fn, rounds, sync=lambda: None):
    "Fastest of `rounds` calls of `fn`, in milliseconds, after one warm-up call."
    fn(); sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter(); fn(); sync(); times.append(time.perf_counter() - start)
    return min(times) * 1e3

def numpy_loop(codec, keypoints, visible):
    "Encode and decode one person at a time with the numpy path."
    for kp, vis in zip(keypoints, visible): codec.decode(*decode_inputs(codec.encode(kp[None], vis[None])))

def batched(codec, keypoints, visible):
    "Encode and decode the whole batch with the torch path."
    return codec.decode_batch(*decode_inputs(codec.encode_batch(keypoints, visible)))

def main(batch=256, rounds=5):
    rng = np.random.default_rng(0)
    keypoints = (rng.random((batch, 17, 2)) * (np.array(INPUT) - 1)).astype(np.float32)
    visible = (rng.random((batch, 17)) > 0.1).astype(np.float32)
    devices = [torch.device('cpu')] + ([torch.device('cuda')] if torch.cuda.is_available() else [])
    print(f'{batch} x 17 keypoints, input {INPUT}, heatmaps {HEATMAP}; torch {torch.__version__}, '
          f'{", ".join(torch.cuda.get_device_name() if d.type == "cuda" else "cpu" for d in devices)}; best of {rounds}')
    summary = []
    for name, codec in CODECS.items():
        base = best_ms(lambda: numpy_loop(codec, keypoints, visible), rounds)
        line = f'  {name:<13} numpy per sample {base:8.1f} ms'
        for device in devices:
            kp, vis = torch.from_numpy(keypoints).to(device), torch.from_numpy(visible).to(device)
            sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
            ms = best_ms(lambda: batched(codec, kp, vis), rounds, sync)
            line += f' | batch {device.type} {ms:7.2f} ms ({base / ms:6.1f}x)'
            summary.append(f'{name}_{device.type}={base / ms:.1f}')
        print(line)
    print('codecs: ' + ' '.join(summary))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=256); p.add_argument('--rounds', type=int, default=5)
    main(**vars(p.parse_args()))
