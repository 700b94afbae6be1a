"""A run's phases count their work (issue 17, item 10): ``execute`` counts drawing the network
and its passes layer by layer on ``progress``, the float64 recomputation and the
random-direction check count theirs on ``track``, and ``build_report`` counts the layers it
compares."""

from __future__ import annotations

from collections import defaultdict

from percgrad.engines.perceptron import PASSES, build_report, execute
from percgrad.reports.run_document import to_json
from percgrad.runtime.progress import Progress
from percgrad.spec.build import chain_spec

Seen = list[tuple[int, int]]


def strictly_up_to(seen: Seen, total: int) -> None:
    assert {t for _, t in seen} == {total}, seen
    done = [d for d, _ in seen]
    assert done == sorted(set(done)), done
    assert done[-1] == total
    assert len(done) > 3, done  # it moves, not 0% then 100%


def test_execute_counts_every_phase(every_call: None) -> None:
    phases: dict[str, Seen] = defaultdict(list)

    def track(label: str) -> Progress:
        return lambda d, t: phases[label].append((d, t))

    own: Seen = []
    spec = chain_spec(depth=7, width=5, batch=2, check="fast", device="cpu", dtype="float32")
    execute(spec, track, lambda d, t: own.append((d, t)))
    assert own[0] == (0, PASSES * 7)  # the bar is there before the first layer is drawn
    assert [d for d, _ in own] == list(range(PASSES * 7 + 1))  # one report per layer and pass
    strictly_up_to(phases["float64 recomputation"], 2 * 7)
    strictly_up_to(phases["random-direction check"], 7 + 1)
    assert set(phases) == {"float64 recomputation", "random-direction check"}


def test_execute_without_progress_is_the_same_run() -> None:
    spec = chain_spec(depth=5, width=4, batch=2, check="fast", device="cpu")
    counted, _ = execute(spec, lambda label: lambda d, t: None, lambda d, t: None)
    plain, _ = execute(spec)
    assert float(counted.fwd.loss) == float(plain.fwd.loss)
    assert counted.numeric is not None and plain.numeric is not None
    assert counted.numeric.projections.tolist() == plain.numeric.projections.tolist()


def test_build_report_counts_the_layers_it_compares(every_call: None) -> None:
    spec = chain_spec(depth=9, width=4, batch=2, check="fast", device="cpu")
    run, timing = execute(spec)
    seen: Seen = []
    report = build_report(run, timing, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, 9) for k in range(1, 10)]
    assert to_json(report) == to_json(build_report(run, timing))  # counting changes nothing
