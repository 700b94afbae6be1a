"""Forward-signal death as a verdict of its own (theory/flow.py, judge_chain): never
"undetermined", after non-finite values and after dead layers that explain it."""

from __future__ import annotations

from percgrad.theory.flow import CHAIN_VERDICTS, SIGNAL_LOST, VERDICTS, judge, judge_chain


def test_a_lost_signal_is_named_where_judge_alone_says_undetermined() -> None:
    norms, dead = [0.0, 0.0, 0.0, 0.0], [False] * 4
    assert judge(norms, dead).kind == "undetermined"
    verdict = judge_chain(norms, dead, first_silent=2)
    assert (verdict.kind, verdict.layers) == (SIGNAL_LOST, (2,))
    assert SIGNAL_LOST in CHAIN_VERDICTS and SIGNAL_LOST not in VERDICTS


def test_a_lost_signal_outranks_a_share_but_not_overflow_or_an_earlier_dead_layer() -> None:
    norms = [1e-3, 1e-2, 1e-1, 1.0]
    assert judge_chain(norms, [False] * 4).kind == "vanishing"
    assert judge_chain(norms, [False] * 4, first_silent=3).kind == SIGNAL_LOST
    assert judge_chain(norms, [False] * 4, first_nonfinite=2, first_silent=3).kind == "non-finite"
    # a layer whose units are all dead outputs 0: "dead" already says why
    assert judge_chain(norms, [False, True, True, True], first_silent=2).layers == (2, 3, 4)
    assert judge_chain(norms, [False, True, True, True], first_silent=2).kind == "dead"
    # dead layers above the one where the signal died (their input is 0) do not explain it
    assert judge_chain(norms, [False, False, True, True], first_silent=2).kind == SIGNAL_LOST
