"""When the kernels run in parallel: the sizes from which threads can pay, the threads a
workflow job asks for, and, inside a solve, the choice between the parallel and the serial
passes by measuring both.

**Why measure.** Whether two threads beat one depends on more than the grid: a parallel
pass forks and joins at every stage, and when another busy process shares the cores (a
cluster node, the other job of ``snakemake --cores 2``) each join waits for a thread that
the scheduler has put aside. Measured on the 2-core development machine, 1-D fixed frame
with 8000 cells: 2 threads 1.35x faster than 1 alone, 1.5x slower beside one busy process;
a 1-D moving frame with 8000 cells: 2 threads 2x slower even alone. So a solve whose grid
is large enough for the parallel passes (:data:`PARALLEL_CELLS`) times both
(:class:`ThreadChoice`) and runs on the faster, and keeps checking the other, since a
neighbour comes and goes. The two give the same bits (each cell's update is computed the
same way whatever the thread that computes it), so the choice changes the time only.
"""

from __future__ import annotations

import math

PARALLEL_CELLS = 2048  # below this a pass runs serially (fork/join costs more than it saves)
# a particles job gets its threads from this estimated kernel time on one core (below, the
# job is mostly its imports, and a second core serves the next job better)
PARALLEL_NETWORK_SECONDS = 1.0


def job_threads(experiment, stage: str, threads: int) -> int:
    """The threads a ``pde`` or ``particles`` job of ``experiment`` asks for (Snakemake's
    ``threads``, SLURM's --cpus-per-task): ``threads`` where its kernels can use them (a
    Vlasov grid of at least :data:`PARALLEL_CELLS` cells; particles whose kernel is
    estimated at :data:`PARALLEL_NETWORK_SECONDS` or more on one core), else 1. A job that
    runs serially but holds two cores keeps the next job waiting."""
    if stage == "pde":
        cells = experiment.pde["cells"]
        size = math.prod(cells) if isinstance(cells, list) else int(cells) ** experiment.dimension
        parallel = experiment.model == "vlasov" and size >= PARALLEL_CELLS
    elif stage == "particles":
        from .cost import network_seconds

        count = experiment.particles["count"]
        parallel = count != "data" and network_seconds(experiment, count) >= (
            PARALLEL_NETWORK_SECONDS
        )
    else:
        raise ValueError(f"unknown stage {stage!r}; expected 'pde' or 'particles'")
    return max(1, int(threads)) if parallel else 1


class ThreadChoice:
    """Per chunk of a solve's steps: the parts to cut each pass into (``parts`` ranges run
    in parallel, or 1: serial) and how many steps to take, from the measured seconds per
    cell-step of each.

    Start: each option runs a probe chunk of :attr:`FIRST_PROBE_CELL_STEPS`, parallel first.
    Where one costs less than :attr:`CLEAR_MARGIN` of the other, it is chosen at once (a
    short solve, a few milliseconds on a 64² grid, would otherwise spend most of its steps
    probing); else each runs a second probe of :attr:`PROBE_SECONDS` and its cost is the
    faster of its two (the first parallel chunk may also start the thread pool). Then the
    cheaper option runs chunks of :attr:`CHUNK_SECONDS`; it gives way as
    soon as one of its chunks costs more than the other's last measurement. After ``wait``
    of its chunks the other runs one probe chunk: if it is cheaper it takes over, otherwise
    the wait doubles (up to :attr:`MAX_WAIT`), so a long solve spends a vanishing share of
    its time on the slower option. Grids below :data:`PARALLEL_CELLS`, or one thread, have one
    option and no timing; so has ``measure=False`` (parallel passes throughout, for
    comparison)."""

    PROBE_SECONDS = 0.005
    CHUNK_SECONDS = 0.05
    FIRST_WAIT, MAX_WAIT = 4, 64
    FIRST_PROBE_CELL_STEPS = 20_000  # each option's first probe, before its cost is known
    CLEAR_MARGIN = 0.8  # after one probe each: a cost below this share of the other's decides
    MIN_SECONDS = 2e-4  # shorter chunks (cut by an output time) are not measured

    def __init__(self, cells: int, parts: int, measure: bool = True):
        self.cells = max(1, int(cells))
        if parts <= 1 or cells < PARALLEL_CELLS:  # as finite_volume.axis_pass decides
            self.options = (1,)
        else:
            self.options = (parts, 1) if measure else (parts,)
        self.probes = list(self.options) * 2 if self.adaptive else []
        self.cost: dict[int, float] = {}
        self.best, self.wait, self.since = self.options[0], self.FIRST_WAIT, 0
        self.choices: dict[int, int] = {}  # steps taken per option (reported by the solver)

    @property
    def adaptive(self) -> bool:
        return len(self.options) > 1

    def next_chunk(self, limit: int) -> tuple[int, int]:
        """(parts, at most how many steps) for the next chunk; ``limit`` caps the steps."""
        if not self.adaptive:
            return self.options[0], limit
        if self.probes:
            parts, seconds = self.probes[0], self.PROBE_SECONDS
        elif self.since >= self.wait:
            parts, seconds = self._other(), self.PROBE_SECONDS
        else:
            parts, seconds = self.best, self.CHUNK_SECONDS
        if parts in self.cost:
            steps = seconds / (self.cost[parts] * self.cells)
        else:
            steps = self.FIRST_PROBE_CELL_STEPS / self.cells
        return parts, int(max(1, min(limit, math.ceil(steps))))

    def record(self, parts: int, steps: int, seconds: float) -> None:
        """Account a chunk of ``steps`` steps run with ``parts`` that took ``seconds``."""
        self.choices[parts] = self.choices.get(parts, 0) + steps
        if not self.adaptive or steps <= 0 or seconds < self.MIN_SECONDS:
            return
        cost = seconds / (steps * self.cells)
        if self.probes:
            self.probes.pop(0)
            self.cost[parts] = min(cost, self.cost.get(parts, math.inf))
            if len(self.cost) == len(self.options):
                low, high = sorted(self.cost.values())
                if low < self.CLEAR_MARGIN * high:
                    self.probes.clear()
            if not self.probes:
                self.best = min(self.options, key=self.cost.__getitem__)
        elif parts != self.best:  # a probe of the other option
            self.cost[parts], self.since = cost, 0
            if cost < self.cost[self.best]:
                self.best, self.wait = parts, self.FIRST_WAIT
            else:
                self.wait = min(2 * self.wait, self.MAX_WAIT)
        else:  # the chosen option, which gives way at once when it became the dearer
            self.cost[parts] = cost
            self.since += 1
            if cost > self.cost[self._other()]:
                self.best, self.wait, self.since = self._other(), self.FIRST_WAIT, 0

    def _other(self) -> int:
        return next(p for p in self.options if p != self.best)

    def summary(self) -> str:
        """Where the steps ran, for the solver's log (of an adaptive choice)."""
        total = max(1, sum(self.choices.values()))
        share = 100.0 * sum(s for p, s in self.choices.items() if p > 1) / total
        return f"parallel passes on {share:.0f} % of the steps (chosen by timing)"
