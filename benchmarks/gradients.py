"""Gradients of a loss on the output law: the mean-field adjoint (forward plus adjoint, 1-D,
400 cells) against one forward solve of the same problem, and against backpropagation
through the network for M data points (cost growing with M, the mean-field one not).

    python benchmarks/gradients.py            # writes benchmarks/results/gradients.json
    python benchmarks/gradients.py --full     # adds M = 10^7 particles
    python benchmarks/gradients.py --smoke    # 100 cells, 10^4 particles, once

Problem: σ = tanh, two segments (w, b) = (-0.7, 1.3) on [0, 2.5), then (0.4, -0.2), to T = 5,
f0 = N(0.5, 0.4²), the quadratic loss ∫ (x - 1)² f(T) dx; the network has 100 layers.
"""

from __future__ import annotations

import numpy as np
from common import log, subject_main, timed

from meanfield_resnet import adjoint, backprop, losses, vlasov
from meanfield_resnet._jit import set_threads
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

LAW = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))
SEGMENTS = (
    Segment(0.0, 2.5, np.array([[-0.7]]), np.array([1.3])),
    Segment(2.5, np.inf, np.array([[0.4]]), np.array([-0.2])),
)
FINAL, LAYERS = 5.0, 100
LOSS = losses.Quadratic(1.0)


def mean_field(cells, moving, repeat=5):
    """One forward solve and one gradient (forward at the time nodes plus the adjoint)."""
    box = LAW.support() if moving else [[-4.0, 6.0]]
    frame = vlasov.Frame.from_box(box, cells, moving)
    problem = vlasov.VlasovProblem("tanh", SEGMENTS, None, frame)
    masses = LAW.cell_probabilities([frame.edges(0)])
    adjoint.gradient(problem, masses, LOSS, FINAL)  # compile
    forward, _ = timed(lambda: vlasov.solve(problem, masses, [0.0, FINAL]), repeat)
    grad_s, grad = timed(lambda: adjoint.gradient(problem, masses, LOSS, FINAL), repeat)
    row = {"cells": cells, "frame": "moving" if moving else "fixed", "forward_s": forward,
           "gradient_s": grad_s, "gradient_per_forward": grad_s / forward,
           "gradient": grad.flat.tolist()}  # fmt: skip
    log(row)
    return row


def particles(m, repeat=3):
    """Backpropagation through the network for M points drawn from f0."""
    x0 = LAW.sample(np.random.default_rng(0), m)[:, 0]
    backprop.gradient(x0[:1000], "tanh", SEGMENTS, FINAL, LAYERS, LOSS)  # compile
    wall, grad = timed(lambda: backprop.gradient(x0, "tanh", SEGMENTS, FINAL, LAYERS, LOSS), repeat)
    row = {"particles": m, "layers": LAYERS, "gradient_s": wall,
           "gradient": np.stack([grad.weight, grad.bias], axis=1).ravel().tolist()}  # fmt: skip
    log(row)
    return row


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json."""
    set_threads(2)
    if smoke:
        return {"gradients_mean_field": [mean_field(100, True, repeat=1)],
                "gradients_particles": [particles(10_000, repeat=1)]}  # fmt: skip
    sizes = [10_000, 1_000_000] + ([10_000_000] if full else [])
    return {
        "gradients_mean_field": [mean_field(400, False), mean_field(400, True)],
        "gradients_particles": [particles(m) for m in sizes],
    }


def main(argv=None):
    return subject_main("gradients", __doc__, run, argv)


if __name__ == "__main__":
    main()
