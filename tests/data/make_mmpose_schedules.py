"Run with MMPose 1.3.2's venv: MMEngine's learning rate, iteration by iteration, for MMPose's top-down and RTMPose schedules -> mmpose_schedules.npz."
import torch
from mmengine.optim.scheduler import LinearLR, MultiStepLR, CosineAnnealingLR
def lrs(kind, n_epoch, n_iter):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    if kind == 'mmpose':
        scheds = [LinearLR(opt, begin=0, end=500, start_factor=0.001, by_epoch=False),
                  MultiStepLR(opt, begin=0, end=n_epoch, milestones=[round(170 / 210 * n_epoch), round(200 / 210 * n_epoch)], gamma=0.1, by_epoch=True)]
    else:
        scheds = [LinearLR(opt, start_factor=1e-5, by_epoch=False, begin=0, end=1000),
                  CosineAnnealingLR.build_iter_from_epoch(opt, eta_min=0.05, begin=n_epoch // 2, end=n_epoch, T_max=n_epoch // 2, by_epoch=True, epoch_length=n_iter)]
    out = []
    for e in range(n_epoch):
        for i in range(n_iter):
            out.append(opt.param_groups[0]['lr'])
            opt.step()
            for s in scheds:
                if not s.by_epoch: s.step()
        for s in scheds:
            if s.by_epoch: s.step()
    return out
import numpy as np
np.savez('tests/data/mmpose_schedules.npz', mmpose=np.array(lrs('mmpose', 21, 40)), rtmpose=np.array(lrs('rtmpose', 40, 60)))

