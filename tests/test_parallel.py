"""The choice between parallel and serial passes (meanfield_resnet.parallel): its logic on
given timings, and the same bits from a solve whatever the passes and the chunks."""

from __future__ import annotations

import numpy as np
import pytest

from meanfield_resnet import finite_volume as fv
from meanfield_resnet import vlasov
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.parallel import PARALLEL_CELLS, ThreadChoice
from meanfield_resnet.settings import constant_segments

CELLS = 10_000


def _run(choice, chunks, cost_of):
    """Run ``chunks`` chunks, each taking cost_of(chunk index, parts) seconds per cell-step;
    returns the parts of each chunk and its steps."""
    out = []
    for k in range(chunks):
        parts, steps = choice.next_chunk(20_000)
        choice.record(parts, steps, cost_of(k, parts) * steps * CELLS)
        out.append((parts, steps))
    return out


def test_the_cheaper_passes_run_and_the_other_is_probed_ever_more_rarely():
    choice = ThreadChoice(CELLS, 8)
    runs = _run(choice, 200, lambda k, parts: 1e-8 if parts == 8 else 2e-8)
    # one probe of each, parallel first, of the same size; half the cost decides at once
    first = round(ThreadChoice.FIRST_PROBE_CELL_STEPS / CELLS)
    assert runs[:3] == [(8, first), (1, first), (8, runs[2][1])] and runs[2][1] > first
    serial = [k for k, (p, _) in enumerate(runs) if p == 1 and k >= 2]
    gaps = np.diff(serial)
    assert gaps.size >= 3 and np.all(np.diff(gaps) >= 0)  # the wait doubles ...
    assert gaps.max() == ThreadChoice.MAX_WAIT + 1  # ... up to its cap
    steps = {p: sum(s for q, s in runs if q == p) for p in (1, 8)}
    assert steps[1] < 0.03 * steps[8]
    # a chunk lasts CHUNK_SECONDS, a probe PROBE_SECONDS, at the measured cost
    assert runs[-1] == (8, round(ThreadChoice.CHUNK_SECONDS / (1e-8 * CELLS)))
    assert choice.cost == pytest.approx({8: 1e-8, 1: 2e-8})


def test_close_costs_get_a_second_probe_each():
    """Within CLEAR_MARGIN of each other the options are probed twice each, alternating, and
    the faster of each option's probes decides."""
    choice = ThreadChoice(CELLS, 8)
    slow_start = {8: 1.3e-8}  # the first parallel chunk also starts the thread pool
    runs = _run(choice, 6, lambda k, parts: slow_start.pop(parts, None) or (
        1e-8 if parts == 8 else 1.2e-8))  # fmt: skip
    assert [p for p, _ in runs[:4]] == [8, 1, 8, 1]
    assert choice.best == 8 and [p for p, _ in runs[4:]] == [8, 8]
    assert choice.cost == pytest.approx({8: 1e-8, 1: 1.2e-8})


def test_a_neighbour_that_arrives_moves_the_solve_to_the_serial_passes_at_once():
    """From chunk 20 on the parallel passes cost 3x more (a busy process shares a core):
    the next chunk is serial, and the parallel passes come back when the neighbour leaves."""
    choice = ThreadChoice(CELLS, 8)

    def cost(k, parts):
        busy = 20 <= k < 120
        return 1e-8 * (3.0 if busy and parts == 8 else 1.0 if parts == 8 else 1.5)

    runs = _run(choice, 200, cost)
    assert runs[19][0] == 8 and runs[20][0] == 8 and runs[21][0] == 1
    busy = [p for p, _ in runs[21:120]]
    assert busy.count(8) <= 5  # probes only
    assert all(p == 8 for p, _ in runs[120 + 2 * ThreadChoice.MAX_WAIT :])


def test_one_option_without_timing_below_the_parallel_size_or_with_one_thread():
    for cells, parts, measure in ((PARALLEL_CELLS - 1, 8, True), (CELLS, 1, True)):
        choice = ThreadChoice(cells, parts, measure)
        assert not choice.adaptive and choice.next_chunk(123) == (1, 123)
    choice = ThreadChoice(CELLS, 8, measure=False)  # parallel passes throughout
    assert not choice.adaptive and choice.next_chunk(123) == (8, 123)
    # chunks too short to time (cut by an output time) are counted, not measured
    choice = ThreadChoice(CELLS, 8)
    choice.record(8, 1, 1e-5)
    assert choice.cost == {} and choice.probes == [8, 1, 8, 1]
    assert choice.next_chunk(10**6) == (8, round(ThreadChoice.FIRST_PROBE_CELL_STEPS / CELLS))


class _Alternating(ThreadChoice):
    """Parallel and serial passes in turn, in chunks of 1 to 3 steps."""

    def next_chunk(self, limit):
        self.turn = getattr(self, "turn", -1) + 1
        return self.options[self.turn % len(self.options)], min(limit, 1 + self.turn % 3)


@pytest.mark.parametrize(
    "d, cells, moving", [(1, 4000, False), (1, 3000, True), (2, 64, True), (2, 48, False)]
)
def test_a_solve_gives_the_same_bits_whatever_its_passes_and_chunks(d, cells, moving,
                                                                    monkeypatch):  # fmt: skip
    law = Distribution("gaussian", mean_=np.full(d, 0.2), std=np.full(d, 0.5))
    weight = np.array([[-0.8, 0.3], [0.2, 0.6]])[:d, :d]
    problem = vlasov.VlasovProblem(
        "tanh", constant_segments(weight, np.full(d, 0.3), d), None,
        vlasov.Frame.from_box(law.support() if moving else [[-5.0, 5.0]] * d, [cells] * d,
                              moving),
    )  # fmt: skip
    masses = law.cell_probabilities([problem.frame.edges(r) for r in range(d)])
    times = [0.0, 0.1, 0.3]

    def solve(chooser):
        monkeypatch.setattr(vlasov, "ThreadChoice", chooser)
        return vlasov.solve(problem, masses, times)

    serial = solve(lambda cells, parts: ThreadChoice(cells, 1))
    assert serial.steps[-1] > 6
    for chooser in (
        lambda cells, parts: ThreadChoice(cells, 8, measure=False),
        lambda cells, parts: _Alternating(cells, 8),
        ThreadChoice,
    ):
        other = solve(chooser)
        np.testing.assert_array_equal(other.density, serial.density)
        np.testing.assert_array_equal(other.lower, serial.lower)
        np.testing.assert_array_equal(other.steps, serial.steps)


def test_the_solver_logs_where_its_steps_ran():
    law = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
    frame = vlasov.Frame.from_box([[-5.0, 5.0]], 4096, False)
    problem = vlasov.VlasovProblem("tanh", constant_segments(-0.5, 0.2), None, frame)
    lines = []
    vlasov.solve(problem, law, [0.0, 0.2], log=lines.append)
    if fv.parallel_parts() > 1:
        assert "parallel passes on" in lines[-1] and "chosen by timing" in lines[-1]


def test_one_thread_runs_the_serial_passes_without_timing():
    import numba

    from meanfield_resnet._jit import set_threads

    law = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
    frame = vlasov.Frame.from_box([[-5.0, 5.0]], 4096, False)
    problem = vlasov.VlasovProblem("tanh", constant_segments(-0.5, 0.2), None, frame)
    threads = numba.get_num_threads()
    set_threads(1)
    try:
        lines = []
        vlasov.solve(problem, law, [0.0, 0.2], log=lines.append)
        assert fv.parallel_parts() == 1
        assert not any("chosen by timing" in line for line in lines)
    finally:
        set_threads(threads)


def _experiment(model="vlasov", dimension=1, cells=400, count=100_000, layers=500):
    from types import SimpleNamespace

    return SimpleNamespace(
        model=model, dimension=dimension, pde={"cells": cells},
        particles={"count": count, "layers": layers},
        diffusion={"kind": "constant"} if model == "fokker_planck" else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "experiment, stage, threads",
    [
        (_experiment(cells=400), "pde", 1),  # a serial grid
        (_experiment(cells=4000), "pde", 2),
        (_experiment(dimension=2, cells=[160, 160]), "pde", 2),
        (_experiment(dimension=2, cells=32), "pde", 1),  # 32 per axis: 1024 cells
        (_experiment(dimension=2, cells=64), "pde", 2),
        (_experiment(model="fokker_planck", cells=10_000), "pde", 1),  # tridiagonal: serial
        (_experiment(count=100_000, layers=500), "particles", 1),  # 0.15 s estimated
        (_experiment(count=1_000_000, layers=1000), "particles", 2),
        (_experiment(model="fokker_planck", count=100_000, layers=1000), "particles", 2),
        (_experiment(count="data"), "particles", 1),
    ],
)
def test_a_job_asks_for_threads_only_where_its_kernels_use_them(experiment, stage, threads):
    from meanfield_resnet.parallel import job_threads

    assert job_threads(experiment, stage, 2) == threads
    assert job_threads(experiment, stage, 1) == 1
    with pytest.raises(ValueError, match="unknown stage"):
        job_threads(experiment, "moments", 2)
