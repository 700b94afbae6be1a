"""Inspect: ``percgrad.inspect(model, x, check="fast")`` on a ResNet-18-like CNN and a ViT-like
model, both built here from torch.nn alone: its peak RSS against a plain forward and backward of
the same model, its time against ``torch.autograd.gradcheck(fast_mode=True)`` over the same
parameters (E = Σ output, as inspect's default loss, of a float64 copy in eval mode)."""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.common import (
    MIB,
    Bench,
    Config,
    Log,
    Stats,
    fmt_mib,
    fmt_s,
    mark,
    run_child,
    time_interleaved,
)

MODELS = ("resnet", "vit")
FACTOR = 2.0
OVERHEAD_BYTES = 300 * MIB
"""Peak RSS of inspect ≤ FACTOR × that of a plain forward and backward + OVERHEAD_BYTES."""
RATIO_LIMIT = 1.0
"""inspect / gradcheck."""
REPEATS = 3
"""Timed runs of each, interleaved (after one untimed round at full size)."""
TIMEOUT_S = 1800.0
SEED = 0
FULL = {"resnet": {"widths": (64, 128, 256, 512), "blocks": 2, "classes": 1000,
                   "input": (2, 3, 64, 64)},
        "vit": {"image": 64, "patch": 8, "dim": 256, "depth": 6, "heads": 8, "mlp": 1024,
                "classes": 100, "input": (2, 3, 64, 64)}}
QUICK = {"resnet": {"widths": (4, 8), "blocks": 1, "classes": 4, "input": (2, 3, 8, 8)},
         "vit": {"image": 8, "patch": 4, "dim": 8, "depth": 1, "heads": 2, "mlp": 16,
                 "classes": 4, "input": (2, 3, 8, 8)}}


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3×3 convolutions with BatchNorm, a projected shortcut when the
    shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        """relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))."""
        h = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(h)) + self.down(x))


class ResNet(nn.Module):
    """ResNet-18's layout (stem, stages of basic blocks, pooled linear head)."""

    def __init__(self, widths: tuple[int, ...], blocks: int, classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        stages: list[nn.Module] = []
        cin = widths[0]
        for i, w in enumerate(widths):
            for b in range(blocks):
                stages.append(BasicBlock(cin, w, 2 if i and not b else 1))
                cin = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits."""
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


class ViT(nn.Module):
    """A vision transformer: patch-embedding convolution, class token and position embedding as
    parameters, pre-norm encoder layers, LayerNorm and a linear head on the class token."""

    def __init__(self, image: int, patch: int, dim: int, depth: int, heads: int, mlp: int,
                 classes: int) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[
            nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the class token."""
        h = self.embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(h))[:, 0])


def build(name: str, quick: bool) -> tuple[nn.Module, Tensor]:
    """The model ``name`` (seeded) and its input batch."""
    sizes: dict[str, Any] = dict((QUICK if quick else FULL)[name])
    shape = sizes.pop("input")
    torch.manual_seed(SEED)
    model = ResNet(**sizes) if name == "resnet" else ViT(**sizes)
    return model, torch.randn(shape)


_PLAIN = """
import sys
import torch
from benchmarks.inspect import build
torch.set_num_threads(1)
model, x = build(sys.argv[1], sys.argv[2] == "quick")
model(x).sum().backward()
"""

_INSPECT = """
import json, sys
import torch
import percgrad
from benchmarks.inspect import build
torch.set_num_threads(1)
model, x = build(sys.argv[1], sys.argv[2] == "quick")
report = percgrad.inspect(model, x, check="fast")
c = report.check
with open(sys.argv[3], "w", encoding="utf-8") as f:
    json.dump({"passed": c.passed, "reason": c.reason, "evaluations": c.evaluations,
               "evaluation": c.evaluation, "timing": report.timing}, f)
"""


@dataclass
class InspectRow:
    """One model: both peaks, both timings, both verdicts."""

    model: str
    params: int
    tensors: int
    input_shape: tuple[int, ...]
    plain_rss_bytes: int
    inspect_rss_bytes: int
    limit_bytes: int
    memory_ok: bool
    inspect: Stats
    gradcheck: Stats
    ratio: float
    ok: bool
    check_s: float
    """The check's share of inspect's time (its own timing, median over the timed runs; the
    rest is the hooked pass)."""
    inspect_passed: bool | None
    gradcheck_passed: bool
    evaluations: int
    evaluation: str
    child: dict[str, Any]
    """What inspect reported in the measured child process."""


@dataclass
class InspectResult:
    """The section: one row per model."""

    rows: list[InspectRow]


def gradcheck_call(model: nn.Module, x: Tensor) -> tuple[Any, tuple[Tensor, ...]]:
    """E(params) = Σ model64(x64) through torch.func.functional_call, and its float64 leaves."""
    m64 = copy.deepcopy(model).to(torch.float64).eval()
    names = [n for n, p in m64.named_parameters() if p.requires_grad]
    leaves = tuple(p.detach().clone().requires_grad_(True) for p in m64.parameters()
                   if p.requires_grad)
    x64 = x.to(torch.float64)

    def fn(*params: Tensor) -> Tensor:
        return torch.func.functional_call(m64, dict(zip(names, params)), (x64,)).sum()

    return fn, leaves


def _child(code: str, name: str, quick: bool, *extra: str) -> Any:
    run = run_child([sys.executable, "-c", code, name, "quick" if quick else "full", *extra],
                    TIMEOUT_S)
    if run.returncode != 0:
        raise RuntimeError(f"{name}: exit {run.returncode}: {run.stderr[-800:]}")
    return run


def measure_row(name: str, cfg: Config, log: Log) -> InspectRow:
    """Peak RSS of both in fresh processes, then both timed in this one, interleaved."""
    import percgrad

    model, x = build(name, cfg.quick)
    params = sum(p.numel() for p in model.parameters())
    log(f"inspect {name}: {params:,} parameters, input {tuple(x.shape)}: peak RSS")
    plain = _child(_PLAIN, name, cfg.quick)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "inspect.json"
        ours = _child(_INSPECT, name, cfg.quick, str(out))
        child = json.loads(out.read_text(encoding="utf-8"))
    limit = int(FACTOR * plain.peak_rss_bytes + OVERHEAD_BYTES)
    fn, leaves = gradcheck_call(model, x)
    verdicts: list[Any] = []
    theirs: list[bool] = []

    def run_inspect(_: object) -> None:
        verdicts.append(percgrad.inspect(model, x, check="fast"))

    def run_gradcheck(_: object) -> None:
        theirs.append(bool(torch.autograd.gradcheck(fn, leaves, fast_mode=True,
                                                    raise_exception=False)))

    log(f"inspect {name}: timing inspect and gradcheck")
    runs = Config(cfg.quick, cfg.devices, repeats=1 if cfg.quick else REPEATS, min_time_s=0.0)
    stats = time_interleaved({"inspect": Bench(run_inspect), "gradcheck": Bench(run_gradcheck)},
                             runs)
    ratio = stats["inspect"].median_s / stats["gradcheck"].median_s
    report = verdicts[-1]
    check_s = statistics.median(float(r.timing["check_s"]) for r in verdicts[-stats["inspect"].n:])
    return InspectRow(
        name, params, len(leaves), tuple(x.shape), plain.peak_rss_bytes, ours.peak_rss_bytes,
        limit, ours.peak_rss_bytes <= limit, stats["inspect"], stats["gradcheck"], ratio,
        ratio <= RATIO_LIMIT, check_s, report.check.passed, all(theirs),
        int(report.check.evaluations or 0), str(report.check.evaluation), child)


def measure(cfg: Config, log: Log) -> InspectResult:
    """Both models, with one torch thread here and in the measured processes (on a shared
    machine, threads that wait for a core scatter the timings far more than the targets'
    margins)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return InspectResult([measure_row(name, cfg, log) for name in MODELS])
    finally:
        torch.set_num_threads(threads)


def render(result: InspectResult) -> list[object]:
    """One table: a row per model."""
    from rich.table import Table

    table = Table(
        title="percgrad.inspect(model, x, check='fast') vs a plain forward+backward (peak RSS) "
        "and torch.autograd.gradcheck(fast_mode=True) (time), 1 thread",
        caption=f"peak RSS by wait4 of a fresh process each; limit {FACTOR:g} × plain + "
        f"{OVERHEAD_BYTES // MIB} MiB. gradcheck: E = Σ model(x) of a float64 copy in eval mode "
        "as a function of its parameters (torch.func.functional_call), as inspect checks it. "
        "Medians of interleaved runs; inspect's time includes its hooked pass (check: the "
        "check's share).",
    )
    for col in ("model", "params", "plain RSS", "inspect RSS", "limit", "met", "inspect",
                "check", "gradcheck", f"ratio ≤ {RATIO_LIMIT:g}", "met", "evaluations",
                "inspect passed", "gradcheck passed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in result.rows:
        table.add_row(
            f"{r.model} {'×'.join(map(str, r.input_shape))}", f"{r.params:,} ({r.tensors})",
            fmt_mib(r.plain_rss_bytes), fmt_mib(r.inspect_rss_bytes), fmt_mib(r.limit_bytes),
            mark(r.memory_ok), fmt_s(r.inspect.median_s), fmt_s(r.check_s),
            fmt_s(r.gradcheck.median_s), f"{r.ratio:.3f}", mark(r.ok),
            f"{r.evaluations:,} ({r.evaluation})",
            {True: "yes", False: "no", None: "n/a"}[r.inspect_passed],
            "yes" if r.gradcheck_passed else "no")
    return [table]
