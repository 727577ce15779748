"Run with MMPose 1.3.2's venv (~/.cache/mmpose-peer/bin/python tests/data/make_mmpose_ema.py): its ExpMomentumEMA over 20 random steps -> mmpose_ema.pt."
import torch
from mmpose.engine.hooks.ema_hook import ExpMomentumEMA
res = {}
for ub in (True, False):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = ExpMomentumEMA(net, momentum=0.01, gamma=20, update_buffers=ub)
    states = []
    for step in range(20):
        with torch.no_grad():
            for p in net.parameters(): p.add_(torch.randn_like(p))
            net.train(); net(torch.randn(8, 3))
        states.append({k: v.clone() for k, v in net.state_dict().items()})
        ema.update_parameters(net)
    res[ub] = dict(states=states, ema={k: v.clone() for k, v in ema.module.state_dict().items()})
torch.save(res, 'tests/data/mmpose_ema.pt')
