"""What an experiment is made of, from its validated settings and the data sets: the initial
law f_0, the diffusion K and the (W, b) segments (the bias derived when K and b are fitted
to a target law, docs/model.md §3.8). The one place that turns these config entries into
objects; the solvers' problems are built from them."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import datasets, diffusion, distributions
from .settings import Experiment


def law_from_spec(spec: dict, dimension: int, data: dict[str, xr.Dataset]):
    """A distribution of the config (its samples taken from the data sets)."""
    samples = None
    if spec["kind"] == "samples":
        samples = datasets.source_samples(spec["source"], data)
    return distributions.from_spec(spec, dimension, samples)


def initial_law(exp: Experiment, data: dict[str, xr.Dataset]) -> distributions.Distribution:
    """The experiment's initial distribution f_0."""
    return law_from_spec(exp.initial, exp.dimension, data)


def diffusion_and_bias(exp: Experiment, data) -> tuple[diffusion.Diffusion | None, tuple]:
    """K(x) of the experiment and its (W, b) segments (b derived when fitting a target)."""
    target = None
    if exp.fits_target:
        target = law_from_spec(exp.diffusion["target"], 1, data)
    k, bias = diffusion.from_spec(exp.diffusion, target, float(exp.weight[0, 0]))
    segments = exp.segments
    if bias is not None:
        s = segments[0]
        segments = (type(s)(s.start, s.until, s.weight, np.array([bias])),)
    return k, segments
