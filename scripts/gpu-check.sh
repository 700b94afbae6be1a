#!/usr/bin/env bash
# On a machine with a CUDA GPU: the CUDA tests, the CUDA path of every command, and the benchmark.
# Usage: scripts/gpu-check.sh [python]   (default: the python on PATH, with percgrad installed)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python}
status=0
step() { echo; echo "== $*"; "$@" || { echo "!! failed: $*"; status=1; }; }

step "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"
step "$PY" -m pytest -q -m cuda
for dtype in float32 float64; do
    step "$PY" -m percgrad single --inputs 3 --device cuda --dtype "$dtype"
    step "$PY" -m percgrad multi --inputs 3 --outputs 4 --hidden 8,8 --device cuda --dtype "$dtype"
    step "$PY" -m percgrad vanish --depth 10 --device cuda --dtype "$dtype"
done
step "$PY" -m percgrad vanish --depth 200 --width 512 --batch 64 --device cuda
step "$PY" -m percgrad vanish --compare sigmoid,tanh,relu --width 256 --depth 20 --device cuda
step "$PY" -m percgrad vanish --depth 20 --width 64 --steps 100 --lr 0.5 --device cuda
# Same seed, same numbers: the CPU and CUDA JSON documents agree within float32 tolerance.
step "$PY" - <<'PYEOF'
import json, subprocess, sys
import numpy as np
def doc(device):
    out = subprocess.run([sys.executable, "-m", "percgrad", "multi", "--hidden", "8", "--json",
                          "--device", device], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
cpu, gpu = doc("cpu"), doc("cuda")
for a, b in zip(cpu["layers"], gpu["layers"]):
    np.testing.assert_allclose(a["grad"]["analytic"], b["grad"]["analytic"], rtol=1e-4, atol=1e-7)
print("CPU and CUDA gradients agree")
PYEOF
# inspect and watch on CUDA (never run on a GPU before 0.3 ended): the model on the device, the
# check's float64 copy there too; watch's per-step read and its re-run of the first NaN step
# under a dispatch mode (backward ops may run on autograd's device threads).
step "$PY" -m percgrad inspect examples/deep_sigmoid.py:build --input-shape 32,64 --device cuda
step "$PY" -m percgrad inspect examples/deep_sigmoid.py:build --input-shape 32,64 --device cuda --check fast
step "$PY" - <<'PYEOF'
import torch
from torch import nn
import percgrad
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)).cuda()
x, y = torch.randn(128, 8, device="cuda"), torch.randn(128, 1, device="cuda")
opt = torch.optim.SGD(model.parameters(), lr=0.1)
with percgrad.watch(model) as w:
    for step in range(30):
        h = model(x)
        loss = ((h - y) ** 2).mean() + (torch.log(h.abs().max() - 1e9) if step == 20 else 0)
        opt.zero_grad(); loss.backward(); opt.step()
r = w.report()
assert r.steps[:3] == [0, 1, 2] and all(m.grad_norm[0] for m in r.modules), r.modules
assert r.nonfinite is not None and r.nonfinite.step == 20, r.nonfinite
print("watch on CUDA:", r.nonfinite)
PYEOF
if [ -f benchmarks/run.py ]; then
    step "$PY" -m benchmarks.run --device cuda
fi
exit $status
