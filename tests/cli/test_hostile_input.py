"""Hostile input to the CLI's own options and data files: every case ends in exit 0, 1 or 2 with
one clear line naming the option or the file, never exit 3, a traceback or a silent exit.

Numbers are read strictly (ASCII digits, a sane length and size), data files defensively (every
file is written here, in tmp_path), and messages print what the user typed literally (no Rich
markup, no emoji codes) and name the option the user actually gave.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from percgrad.cli.app import app
from percgrad.engines.data_files import read_data, read_state_dict, read_targets
from percgrad.errors import PercgradError
from percgrad.spec.parse import parse_size, parse_sizes, strict_float, strict_int
from percgrad.spec.phase import parse_grid

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[2]
BROKEN = "examples/broken_backward.py:build"
BAD_FUNCTION = "examples/bad_function.py:ScaledSoftplus"
DIGITS_401 = "9" * 401
DIGITS_5000 = "9" * 5000


def invoke(*args: str):
    cwd = os.getcwd()
    os.chdir(ROOT)  # the examples are named relative to the repository
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(cwd)


def assert_refused(result, *names: str) -> None:
    """Exit 2, one Error line on stderr naming ``names``, nothing on stdout, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stderr, repr(result.exception))
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "internal error" not in lines[0]
    assert result.stdout == ""


# ---------------------------------------------------------------- 1. strict numbers

NUMBERS = [
    (("multi", "--hidden", "²"), "--hidden"),  # str.isdigit says yes, int() says no
    (("multi", "--hidden", "٣"), "--hidden"),  # int() would read 3
    (("multi", "--hidden", "8," + DIGITS_5000), "--hidden"),  # over int()'s 4,300 digits
    (("multi", "--hidden", DIGITS_401), "--hidden"),
    (("multi", "--inputs", "²"), "--inputs"),
    (("multi", "--inputs", "٣"), "--inputs"),
    (("multi", "--inputs", DIGITS_5000), "--inputs"),
    (("multi", "--inputs", DIGITS_401), "--inputs"),  # was OverflowError (int / float)
    (("multi", "--inputs", str(2**63)), "--inputs"),
    (("multi", "--outputs", "1_0"), "--outputs"),  # Python's int() takes underscores
    (("single", "--max-memory", DIGITS_401[:400]), "--max-memory"),  # was int(inf)
    (("single", "--max-memory", "99999999999T"), "--max-memory"),
    (("single", "--gain", "1_0"), "--gain"),
    (("single", "--gain", "١"), "--gain"),
    (("single", "--x", "١,2,3"), "--x"),
    (("single", "--target", "٣"), "--target"),
    (("single", "--seed", DIGITS_5000), "--seed"),
    (("phase", "--sigma-w2", "0.5:4:1e-320"), "--sigma-w2"),  # was OverflowError (inf points)
    (("phase", "--sigma-w2", "0.5:4:1e-200"), "--sigma-w2"),  # a 200-digit count
    (("phase", "--sigma-b2", "0,٣"), "--sigma-b2"),
    (("phase", "--depth", DIGITS_401), "--depth"),
    (("phase", "--max-memory", DIGITS_401[:400]), "--max-memory"),
    (("vanish", "--depth", "1_0"), "--depth"),
    (("vanish", "--steps", "-" + DIGITS_401), "--steps"),
    (("check", BAD_FUNCTION, "--shapes", "3x²"), "--shapes"),
    (("inspect", BROKEN, "--input-shape", "8,٣"), "--input-shape"),
    (("inspect", BROKEN, "--input-shape", "8," + DIGITS_5000), "--input-shape"),
]


@pytest.mark.parametrize(("args", "option"), NUMBERS, ids=lambda v: str(v)[:40])
def test_hostile_numbers_are_refused(args: tuple[str, ...], option: str) -> None:
    result = invoke(*args, *(("--device", "cpu") if args[0] != "check" else ()))
    assert_refused(result, option)
    assert len(result.stderr) < 400, "a 5,000-digit number is shortened in the message"


def test_tiny_grid_step_says_why() -> None:
    for step in ("1e-320", "1e-200"):
        with pytest.raises(PercgradError, match="too small"):
            parse_grid(f"0.5:4:{step}", "--sigma-w2", 0.0, True)


def test_strict_parsers_take_plain_ascii_numbers() -> None:
    assert strict_int(" 42 ", "--x") == 42
    assert strict_int("-7", "--x") == -7
    assert strict_int(str(2**63 - 1), "--x") == 2**63 - 1
    assert strict_float("1e-3", "--x") == 1e-3
    assert strict_float("-.5", "--x") == -0.5
    assert parse_sizes("8, 8", "--hidden") == (8, 8)
    assert parse_size("1.5G") == int(1.5 * 2**30)
    for bad in ("²", "٣", "1_000", "0x10", "", "1.5", DIGITS_5000):
        with pytest.raises(PercgradError):
            strict_int(bad, "--x")
    for bad in ("١.٥", "1_0", "0x10", "", "1e", "--1"):
        with pytest.raises(PercgradError):
            strict_float(bad, "--x")


SEEDS = [
    ("inspect", BROKEN, "--input-shape", "8,16", "--seed", str(2**63 - 1), "--check", "fast"),
    ("check", BAD_FUNCTION, "--shapes", "3x4,4", "--seed", str(2**63 - 1)),
    ("single", "--seed", str(2**63 - 1), "--check", "fast", "--device", "cpu"),
    ("vanish", "--seed", str(2**63 - 1), "--check", "fast", "--width", "3", "--device", "cpu"),
]


@pytest.mark.parametrize("args", SEEDS, ids=lambda a: " ".join(a[:1] + a[-3:]))
def test_largest_seed_runs(args: tuple[str, ...]) -> None:
    """torch takes seeds up to 2**64−1; seed·1,000,003 + salt is reduced into that range."""
    result = invoke(*args)
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr, repr(result.exception))
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_spectrum_of_a_vanishing_chain_runs(activation: str) -> None:
    result = invoke("vanish", "--spectrum", "--gain", "1e-30", "--depth", "6", "--width", "4",
                    "--activation", activation, "--device", "cpu")
    assert result.exit_code in (0, 1), (result.stderr, repr(result.exception))
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------- 2. data files

def _npy(path: Path, array: np.ndarray) -> Path:
    with path.open("wb") as f:  # np.save would add .npy to a name ending in .npz
        np.save(f, array)
    return path


def _quantized() -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates quantized tensors
        return torch.quantize_per_tensor(torch.randn(4, 3), 0.1, 0, torch.qint8)


def _write(kind: str, folder: Path) -> Path:
    """A hostile data file of ``kind``, written now (no binary fixtures in the repository)."""
    if kind == "random-bytes.pt":
        path = folder / kind
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return path
    if kind == "npy-named.npz":
        return _npy(folder / kind, np.ones((4, 3)))
    if kind == "npz-named.npy":
        path = folder / "archive.npz"
        np.savez(path, x=np.ones((4, 3)))
        return path.rename(folder / kind)
    if kind == "empty.npy":
        return _npy(folder / kind, np.zeros((0, 3)))
    if kind == "empty.npz":
        np.savez(folder / kind)
        return folder / kind
    if kind in ("zero-bytes.npy", "zero-bytes.npz", "zero-bytes.pt"):
        (folder / kind).write_bytes(b"")
        return folder / kind
    if kind == "cut.npy":
        path = _npy(folder / kind, np.ones((64, 64)))
        path.write_bytes(path.read_bytes()[:200])
        return path
    if kind == "cut.npz":
        np.savez(folder / kind, x=np.ones((64, 64)))
        (folder / kind).write_bytes((folder / kind).read_bytes()[:300])
        return folder / kind
    if kind == "float128.npy":
        return _npy(folder / kind, np.ones((4, 3), dtype=np.longdouble))
    if kind == "quantized.pt":
        torch.save(_quantized(), folder / kind)
        return folder / kind
    if kind == "sparse.pt":
        torch.save(torch.eye(3).to_sparse(), folder / kind)
        return folder / kind
    if kind == "complex.pt":
        torch.save(torch.ones(4, 3, dtype=torch.complex64), folder / kind)
        return folder / kind
    if kind == "meta.pt":
        torch.save(torch.empty(4, 3, device="meta"), folder / kind)
        return folder / kind
    if kind == "long-field.csv":
        (folder / kind).write_text("a,b\n" + "1" * 140_000 + ",2\n")
        return folder / kind
    if kind == "arabic-digit.csv":
        (folder / kind).write_text("a,b\n٣,2\n", encoding="utf-8")
        return folder / kind
    if kind == "utf16.csv":
        (folder / kind).write_text("a,b\n1,2\n", encoding="utf-16")
        return folder / kind
    raise AssertionError(kind)


REFUSED_FILES = [
    ("random-bytes.pt", "not a file torch.save wrote"),
    ("npy-named.npz", "not an .npz archive"),
    ("npz-named.npy", "not an .npy array"),
    ("empty.npy", "empty array"),
    ("empty.npz", "holds no array"),
    ("zero-bytes.npy", "empty"),
    ("zero-bytes.npz", "empty"),
    ("zero-bytes.pt", "empty"),
    ("cut.npy", "cannot read"),
    ("cut.npz", "cannot read"),
    ("float128.npy", "float128"),
    ("quantized.pt", "quantized"),
    ("sparse.pt", "sparse"),
    ("complex.pt", "complex64"),
    ("meta.pt", "meta device"),
    ("long-field.csv", "field larger than field limit"),
    ("arabic-digit.csv", "is not a number"),
    ("utf16.csv", "cannot read"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.load of a quantized tensor
@pytest.mark.parametrize(("kind", "reason"), REFUSED_FILES, ids=[k for k, _ in REFUSED_FILES])
def test_hostile_data_file_is_refused_with_its_name_and_reason(tmp_path: Path, kind: str,
                                                               reason: str) -> None:
    path = _write(kind, tmp_path)
    for read, option in ((read_data, "--data"), (read_targets, "--targets")):
        with pytest.raises(PercgradError) as caught:
            read(path)
        assert caught.value.option == option
        assert kind in caught.value.message and reason in caught.value.message, caught.value.message


def test_big_endian_npy_is_read_as_its_values(tmp_path: Path) -> None:
    values = np.arange(12, dtype=">f8").reshape(4, 3) / 7
    x, y = read_data(_npy(tmp_path / "big.npy", values))
    assert y is None
    assert torch.equal(x, torch.from_numpy(values.astype("<f8")))


def test_csv_with_a_byte_order_mark_reads_its_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text("y,a,b\n1,0.5,2\n0,1.5,3\n", encoding="utf-8-sig")
    x, y = read_data(path, "y")
    assert y is not None and y.tolist() == [1.0, 0.0]
    assert x.tolist() == [[0.5, 2.0], [1.5, 3.0]]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kind", ["random-bytes.pt", "quantized.pt"])
def test_hostile_state_dict_is_refused(tmp_path: Path, kind: str) -> None:
    path = _write(kind, tmp_path)
    if kind == "quantized.pt":
        torch.save({"weight": _quantized()}, path)
    with pytest.raises(PercgradError) as caught:
        state = read_state_dict(path)
        import percgrad.engines.data_files as data_files

        data_files.load_state(torch.nn.Linear(3, 4), state)
    assert caught.value.option == "--state-dict"


MODEL = "import torch\n\ndef build():\n    torch.manual_seed(0)\n    return torch.nn.Linear(2, 1)\n"


def test_cli_names_the_data_file_and_keeps_torch_warnings_off(tmp_path: Path) -> None:
    """A real process (pytest would catch the warnings itself): torch's deprecation warnings
    on loading a quantized tensor reach stderr with --debug only."""
    (tmp_path / "model.py").write_text(MODEL)
    path = _write("quantized.pt", tmp_path)
    command = [sys.executable, "-m", "percgrad", "inspect", f"{tmp_path}/model.py:build",
               "--data", str(path)]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert quiet.returncode == 2, quiet.stderr
    lines = quiet.stderr.strip().splitlines()
    assert len(lines) == 1 and "--data" in lines[0] and "quantized.pt" in lines[0], quiet.stderr
    loud = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert loud.returncode == 2 and "UserWarning" in loud.stderr, loud.stderr


def test_cli_reads_a_bom_csv_by_its_column_name(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "bom.csv").write_text("y,a,b\n1,0.5,2\n0,1.5,3\n", encoding="utf-8-sig")
    result = invoke("inspect", f"{tmp_path}/model.py:build", "--data", str(tmp_path / "bom.csv"),
                    "--target-column", "y", "--json")
    assert result.exit_code == 0, (result.stderr, repr(result.exception))


# ---------------------------------------------------------------- 5. clear messages

@pytest.mark.parametrize(("args", "literal"), [
    (("single", "--activation", ":cat:"), "':cat:'"),
    (("single", "--activation", "[bold]x"), "'[bold]x'"),
    (("single", "--x", ":thumbs_up:"), ":thumbs_up:"),
    ((":cat:",), "':cat:'"),
    (("explain", ":cat:[red]"), ":cat:[red]"),
])
def test_user_input_is_echoed_literally(args: tuple[str, ...], literal: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert literal in result.stderr, result.stderr
    assert "🐱" not in result.stderr and "👍" not in result.stderr


def test_wrote_line_prints_the_file_name_literally(tmp_path: Path) -> None:
    name = tmp_path / "[bold]r.txt"
    result = invoke("single", "--save", str(name), "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert f"wrote {name}" in result.stderr and name.exists()


@pytest.mark.parametrize(("args", "blamed", "not_blamed"), [
    (("single", "--init", "xavier", "--sigma-b2", "0.1"), "--sigma-b2", "--sigma-w2"),
    (("single", "--init", "xavier", "--sigma-w2", "2"), "--sigma-w2", "--sigma-b2"),
    (("vanish", "--compare-arch", "plain,layernorm", "--width", "1"), "--compare-arch", "--norm"),
    (("vanish", "--compare", "sigmoid,relu", "--loss", "bce"), "--compare", "Error: --loss"),
])
def test_error_names_the_option_given(args: tuple[str, ...], blamed: str, not_blamed: str) -> None:
    result = invoke(*args, "--device", "cpu")
    assert_refused(result, f"Error: {blamed}:")
    assert not_blamed not in result.stderr.split(":", 2)[1], result.stderr


@pytest.mark.parametrize(("args", "says", "never"), [
    (("phase", "--mistake", "x"), "single, multi and vanish take it", "did you mean"),
    (("phase", "--tensors"), "vanish takes it", "did you mean"),
    (("explain", "delta", "--json"), "take it", "did you mean"),
    (("single", "--hidden", "3"), "multi takes it", "did you mean"),
    (("single", "--sav", "x.txt"), "did you mean --save?", "take it"),
    (("vanish", "--mistakes", "x"), "did you mean --mistake?", "take it"),
    (("--json", "single"), "before the command", "did you mean"),
])
def test_unknown_option_hints_only_what_fits(args: tuple[str, ...], says: str, never: str) -> None:
    result = invoke(*args)
    assert_refused(result, next(a for a in args if a.startswith("--")))
    assert says in result.stderr and never not in result.stderr, result.stderr
