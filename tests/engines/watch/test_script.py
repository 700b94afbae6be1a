"""Running a script under a recorder (engines/watch/script.py): the models an optimizer steps
are found through the global module hooks (several of them, a model called inside another
left to it); argv, __main__ and sys.path are the script's and are put back."""

from __future__ import annotations

import sys
from pathlib import Path

from percgrad.engines.watch.recorder import Recorder
from percgrad.engines.watch.script import run_script

GAN = '''
import sys, torch
from torch import nn
assert __name__ == "__main__" and sys.argv[1:] == ["--x", "1"]
torch.manual_seed(0)
gen, disc = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)), nn.Linear(2, 1)
og, od = torch.optim.SGD(gen.parameters(), lr=0.1), torch.optim.SGD(disc.parameters(), lr=0.1)
for _ in range(3):
    fake = gen(torch.randn(8, 2))
    d = disc(fake.detach()).mean(); od.zero_grad(); d.backward(); od.step()
    g = -disc(fake).mean(); og.zero_grad(); g.backward(); og.step()
'''


def test_every_model_an_optimizer_steps_is_watched(tmp_path: Path) -> None:
    script = tmp_path / "gan.py"
    script.write_text(GAN)
    argv, path = list(sys.argv), list(sys.path)
    recorder = Recorder(target=str(script))
    run = run_script(recorder, str(script), ["--x", "1"], False)
    assert run.exit_code == 0, run.error
    report = recorder.report(run.exit_code)
    assert report.models == ["Linear", "Sequential"]  # in the order their optimizers stepped
    assert {m.name for m in report.modules} == {"Linear", "Sequential.0", "Sequential.2"}
    assert report.total_steps == 6  # both optimizers' steps
    assert sys.argv == argv and sys.path == path
