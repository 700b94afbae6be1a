"""The user's code is a guest (issue 20, item 2): ``percgrad inspect`` and ``check`` run code
that prints to descriptor 1, exits, raises BaseExceptions, turns autograd off, changes the
default dtype or reseeds torch, shares weights, lives on the meta device, is TorchScript, fails
only on a later call, returns nothing to differentiate, or has no trainable parameter; every
time the report stays one JSON document on stdout, the exit status is 0, 1 or 2 (never 3), and
percgrad's own settings are as they were. The hostile code lives in files written here and runs
through the CLI (in a subprocess where it touches the process itself)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from percgrad.cli.app import app

pytestmark = pytest.mark.cli

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def run_cli(*args: object, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``percgrad …`` in a fresh interpreter: what reaches descriptors 1 and 2 is what counts."""
    return subprocess.run([sys.executable, "-m", "percgrad", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


MODEL = """
    import torch
    from torch import nn

    def build():
        return nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
"""


# ---------------------------------------------------------------- stdout stays one JSON document

NOISY = """
    import atexit, os, sys
    import torch
    from torch import nn

    print("print at import")
    os.write(1, b"os.write at import\\n")
    print("sys.__stdout__ at import", file=sys.__stdout__)
    atexit.register(lambda: print("atexit print"))
    atexit.register(lambda: os.write(1, b"atexit os.write\\n"))

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(16, 1)

        def forward(self, x):
            print("print in forward")
            os.write(1, b"os.write in forward\\n")
            sys.__stdout__.write("sys.__stdout__ in forward\\n")
            return self.layer(x)

    def build():
        return Noisy()

    def f(x):
        print("print in f")
        os.write(1, b"os.write in f\\n")
        print("sys.__stdout__ in f", file=sys.__stdout__)
        return torch.sin(x)
"""


@pytest.mark.parametrize("command", ["inspect", "check"])
def test_whatever_the_users_code_writes_stdout_is_one_json_document(tmp_path: Path,
                                                                    command: str) -> None:
    path = write(tmp_path, "noisy.py", NOISY)
    args = ([f"{path}:build", "--input-shape", "4,16"] if command == "inspect"
            else [f"{path}:f", "--shapes", "3"])
    result = run_cli(command, *args, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # nothing but the document
    assert doc["command"] == command
    for said in ("at import", "atexit print", "atexit os.write"):
        assert said in result.stderr, said
    assert ("in forward" if command == "inspect" else "in f") in result.stderr


# ---------------------------------------------------------------- exits and BaseExceptions

@pytest.mark.parametrize(("source", "target", "words"), [
    ("import sys\nsys.exit(0)\n", "build", "called sys.exit(0)"),
    ("import sys\nsys.exit(3)\n", "build", "called sys.exit(3)"),
    ("raise SystemExit('bye')\n", "build", "called sys.exit('bye')"),
    ("class Stop(BaseException):\n    pass\nraise Stop('no')\n", "build", "Stop: no"),
    ("import sys\ndef build():\n    sys.exit(0)\n", "build", "calling"),
])
def test_an_exit_while_loading_is_a_named_error(tmp_path: Path, source: str, target: str,
                                                 words: str) -> None:
    path = write(tmp_path, "leaves.py", source)
    result = invoke("inspect", f"{path}:{target}", "--input-shape", "4,16", "--json")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("Error: TARGET:"), result.stderr
    assert words in result.stderr
    assert result.stdout == ""


EXITING = """
    import sys
    import torch
    from torch import nn

    class Stop(BaseException):
        pass

    class Exits(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(16, 1)

        def forward(self, x):
            sys.exit(5)

    def build():
        return Exits()

    def exits(x):
        sys.exit(5)

    def stops(x):
        raise Stop("stopped")

    calls = [0]

    def exits_later(x):
        calls[0] += 1
        if calls[0] > 2:
            sys.exit(7)
        return torch.sin(x)

    def generator_exit(x):
        raise GeneratorExit("closed")
"""


@pytest.mark.parametrize(("command", "target", "words"), [
    ("inspect", "build", "forward pass called sys.exit(5)"),
    ("check", "exits", "exits called sys.exit(5)"),
    ("check", "stops", "Stop: stopped"),
    ("check", "exits_later", "called sys.exit(7)"),
    ("check", "generator_exit", "GeneratorExit"),
])
def test_an_exit_or_base_exception_in_the_users_code_is_exit_2(tmp_path: Path, command: str,
                                                                target: str, words: str) -> None:
    path = write(tmp_path, "exiting.py", EXITING)
    args = ["--input-shape", "4,16"] if command == "inspect" else ["--shapes", "3"]
    result = invoke(command, f"{path}:{target}", *args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)  # never 1: no check failed
    assert "Error: TARGET:" in result.stderr and words in result.stderr, result.stderr
    assert "exiting.py, line" in result.stderr  # where in the user's code


def test_an_exit_in_the_users_code_does_not_end_the_process_with_its_status(tmp_path: Path) -> None:
    path = write(tmp_path, "exiting.py", EXITING)
    result = run_cli("check", f"{path}:exits", "--shapes", "3")
    assert result.returncode == 2
    assert "called sys.exit(5)" in result.stderr


# ---------------------------------------------------------------- global settings

STATEFUL = """
    import torch
    from torch import nn

    torch.set_grad_enabled(False)
    torch.set_default_dtype(torch.float64)

    def build():
        return nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1)).float()

    def f(x):
        return torch.sin(x)
"""


def test_autograd_turned_off_at_import_neither_hides_gradients_nor_leaks(tmp_path: Path) -> None:
    path = write(tmp_path, "stateful.py", STATEFUL)
    result = invoke("inspect", f"{path}:build", "--input-shape", "8,16", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    norms = [m["grad_norm"] for m in doc["modules"] if m["params"]]
    assert norms and all(n > 0 for n in norms)  # not 0 = "healthy"
    assert doc["check"]["passed"] is True
    notes = " ".join(doc["notes"])
    assert "turned autograd off" in notes and "default dtype to float64" in notes
    # percgrad put its settings back: the test process is as it was
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


def test_a_correct_sin_passes_although_autograd_was_turned_off(tmp_path: Path) -> None:
    path = write(tmp_path, "stateful.py", STATEFUL)
    for dtype in ("float64", "float32"):
        result = invoke("check", f"{path}:f", "--shapes", "3x4", "--dtype", dtype, "--json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["check"]["passed"] is True
        assert any("autograd off" in n for n in doc["notes"])
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32


RANDOM = """
    import random
    import numpy as np
    import torch
    from torch import nn

    drawn_at_import = nn.Linear(16, 1)
    torch.nn.init.constant_(drawn_at_import.bias, float(np.random.rand()) + random.random())

    def build():
        return nn.Sequential(nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
"""


@pytest.mark.parametrize("target", ["drawn_at_import", "build"])
def test_the_seed_comes_before_the_users_code(tmp_path: Path, target: str) -> None:
    path = write(tmp_path, "random_model.py", RANDOM)

    def document(seed: int) -> str:
        result = invoke("inspect", f"{path}:{target}", "--input-shape", "8,16", "--seed", seed,
                        "--json", "--check", "off")
        assert result.exit_code == 0, result.stderr
        return result.stdout

    first = document(0)
    assert document(0) == first
    assert document(1) != first


def test_the_seed_decides_across_processes(tmp_path: Path) -> None:
    path = write(tmp_path, "random_model.py", RANDOM)
    runs = [run_cli("inspect", f"{path}:drawn_at_import", "--input-shape", "4,16", "--seed", "0",
                    "--json", "--check", "off") for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout


def test_a_target_that_seeds_torch_itself_is_told(tmp_path: Path) -> None:
    path = write(tmp_path, "reseeds.py", "import torch\nfrom torch import nn\n"
                 "torch.manual_seed(123)\nnet = nn.Linear(16, 1)\n")
    result = invoke("inspect", f"{path}:net", "--input-shape", "4,16", "--json", "--check", "off")
    assert result.exit_code == 0, result.stderr
    assert any("torch.manual_seed(123)" in n for n in json.loads(result.stdout)["notes"])


# ---------------------------------------------------------------- models inspect cannot run as they are

ODD = """
    import torch
    from torch import nn

    def shared():
        layer = nn.Linear(16, 16)
        return nn.Sequential(layer, nn.Tanh(), layer)

    def meta():
        with torch.device("meta"):
            return nn.Linear(16, 1)

    def scripted():
        return torch.jit.script(nn.Sequential(nn.Linear(16, 4), nn.Tanh()))

    def traced():
        return torch.jit.trace(nn.Sequential(nn.Linear(16, 4), nn.Tanh()), torch.randn(2, 16))

    class ScriptedInside(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.jit.script(nn.Linear(16, 4))

        def forward(self, x):
            return self.inner(x)

    def scripted_inside():
        return ScriptedInside()

    class Later(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(16, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 3:
                raise RuntimeError("fails on a later call")
            return self.layer(x)

    def later():
        return Later()

    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(16, 4)

        def forward(self, x):
            return self.layer(x)[:, :0]

    def empty():
        return Empty()

    class Whole(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(16, 4)

        def forward(self, x):
            return self.layer(x).long()

    def whole():
        return Whole()

    class Argmax(Whole):
        def forward(self, x):
            return self.layer(x).argmax(dim=1)

    def argmax():
        return Argmax()

    def frozen():
        model = nn.Sequential(nn.Linear(16, 4), nn.Tanh())
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def no_parameters():
        return nn.Sequential(nn.Tanh())

    calls = [0]

    def later_f(x):
        calls[0] += 1
        if calls[0] > 2:
            raise ValueError("fails on a later call")
        return torch.sin(x)

    def empty_f(x):
        return x[:0]

    def whole_f(x):
        return (3 * x).long()

    def bool_f(x):
        return x > 0
"""


def test_shared_weights_are_checked_in_a_loop_and_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.py", ODD)
    result = invoke("inspect", f"{path}:shared", "--input-shape", "8,16", "--json")
    assert result.exit_code == 0, result.stderr
    check = json.loads(result.stdout)["check"]
    assert check["passed"] is True and check["evaluation"] == "loop"
    result = invoke("inspect", f"{path}:shared", "--input-shape", "8,16", "--check", "fast")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(("target", "args", "words"), [
    ("meta", (), "on the meta device have no values"),
    ("scripted", (), "TorchScript"),
    ("traced", (), "TorchScript"),
    ("scripted_inside", (), "its module 'inner' is a TorchScript module"),
    ("later", (), "RuntimeError: fails on a later call"),
    ("later", ("--steps", "5", "--check", "off"), "fails on a later call"),
    ("empty", (), "has no entries"),
    ("whole", (), "int64"),
    ("argmax", (), "int64"),
    ("frozen", (), "no parameters that require a gradient"),
    ("no_parameters", (), "no parameters that require a gradient"),
])
def test_a_model_that_cannot_be_inspected_is_refused_with_the_reason(
        tmp_path: Path, target: str, args: tuple[str, ...], words: str) -> None:
    path = write(tmp_path, "odd.py", ODD)
    result = invoke("inspect", f"{path}:{target}", "--input-shape", "8,16", *args, "--json")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("Error: TARGET:"), result.stderr
    assert words in result.stderr, result.stderr
    assert "internal error" not in result.stderr
    assert result.stdout == ""


def test_an_empty_batch_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "model.py", MODEL)
    result = invoke("inspect", f"{path}:build", "--input-shape", "0,16")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --input-shape:")


@pytest.mark.parametrize(("target", "words"), [
    ("later_f", "during the finite differences, calling later_f"),
    ("empty_f", "no entries"),
    ("whole_f", "no floating-point tensor"),
    ("bool_f", "no floating-point tensor"),
])
def test_a_function_that_cannot_be_checked_is_refused_with_the_reason(
        tmp_path: Path, target: str, words: str) -> None:
    path = write(tmp_path, "odd.py", ODD)
    result = invoke("check", f"{path}:{target}", "--shapes", "3x4")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("Error: TARGET:"), result.stderr
    assert words in result.stderr
    assert "PASS" not in result.stdout and "HEALTHY" not in result.stdout


# ---------------------------------------------------------------- bounded work

@pytest.mark.parametrize(("args", "option"), [
    (("inspect", "{model}:build", "--input-shape", "134217728,16"), "--input-shape"),
    (("check", "torch:sin", "--shapes", "1000000000"), "--shapes"),
    (("inspect", "{model}:build", "--input-shape", "100000,16", "--max-memory", "1M"),
     "--input-shape"),
    (("check", "torch:sin", "--shapes", "100000", "--max-memory", "1M"), "--shapes"),
])
def test_a_run_too_large_for_memory_is_refused_before_it_allocates(
        tmp_path: Path, args: tuple[str, ...], option: str) -> None:
    model = write(tmp_path, "model.py", MODEL)
    result = run_cli(*(a.format(model=model) for a in args), timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"Error: {option}: this run needs at least about" in result.stderr
    assert "--max-memory" in result.stderr


def test_max_memory_lets_a_user_run_through(tmp_path: Path) -> None:
    model = write(tmp_path, "model.py", MODEL)
    result = invoke("inspect", f"{model}:build", "--input-shape", "4,16", "--max-memory", "1G")
    assert result.exit_code == 0, result.stderr
    result = invoke("check", "torch:sin", "--shapes", "3", "--max-memory", "1G")
    assert result.exit_code == 0, result.stderr
    result = invoke("check", "torch:sin", "--shapes", "3", "--max-memory", "lots")
    assert result.exit_code == 2 and "Error: --max-memory:" in result.stderr


@pytest.mark.parametrize("args", [
    ("vanish", "--steps", "1000000000"),
    ("vanish", "--steps", "1000001"),
    ("inspect", "torch.nn:Identity", "--input-shape", "2,2", "--steps", "1000000000"),
])
def test_steps_have_a_bound(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: --steps:")
