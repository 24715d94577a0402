"""Benchmark suite: our solvers and particle kernels against the tools a user would pick
instead, and against the machine's memory bandwidth, in one run on one machine.

    python benchmarks/run.py            # quick suite (a few minutes)
    python benchmarks/run.py --full     # adds 10^5-cell 1-D runs (ours, py-pde), 2048² grids,
                                        # 10^7-particle Euler-Maruyama, 10^4-cell fplanck,
                                        # 256² py-pde in 2-D

Writes benchmarks/results/benchmarks.{json,md} (--out DIR: elsewhere). Absolute times are
noisy on shared machines; compare the ratios, which are measured side by side in the same
run. The subjects, in the order they run, each also runnable alone
(``python benchmarks/<subject>.py [--full | --smoke]``, writing ``results/<subject>.json``):
memory (triad, stage-kernel traffic), vlasov_1d (ours, numpy, py-pde), vlasov_2d (ours,
py-pde), frames (small problems: moving against fixed frame, py-pde), fokker_planck (ours,
py-pde, fplanck), particles (deterministic, Euler-Maruyama, normals), gradients, threads,
pipeline (snakemake, cold and warm numba cache). Summaries and the table: report.
"""

from __future__ import annotations

import argparse

import fokker_planck
import frames
import gradients
import memory
import particles
import pipeline
import threads
import vlasov_1d
import vlasov_2d
from common import machine, output_option, write_results
from report import markdown, summarise

SUBJECTS = (
    memory, vlasov_1d, vlasov_2d, frames, fokker_planck, particles, gradients, threads, pipeline,
)  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the large cases too")
    parser.add_argument("--skip-pipeline", action="store_true")
    output_option(parser)
    args = parser.parse_args(argv)
    r = {"machine": machine()}
    for subject in SUBJECTS:
        if subject is pipeline and args.skip_pipeline:
            continue
        r.update(subject.run(full=args.full))
    r["summary"] = summarise(r)
    write_results(args.out, "benchmarks", r, markdown(r))
    print(markdown(r))


if __name__ == "__main__":
    main()
