"""The config boundary of the solvers: an experiment (validated settings and the data sets)
becomes the problem its PDE solver takes, here and nowhere else.

``experiment`` turns the config into the mathematical objects (f_0, K, the (W, b) segments);
this module adds the discretisation: the typed ``pde:`` settings (:class:`PdeSettings`),
the Vlasov frame (the moving box, or a fixed box that holds the flow) and the
Fokker-Planck grid. :func:`vlasov_problem` and :func:`fokker_planck_problem` give the two
solvers' problems, which mirror each other: σ, the segments, (K,) and the grid, each solved
by ``<solver>.solve(problem, initial, output_times)``. The pipeline, the studies, the
verification ledger and the tests build their problems through these functions or through
the same problem classes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import xarray as xr

from . import fokker_planck, vlasov
from .experiment import diffusion_and_bias, initial_law, law_from_spec
from .settings import Experiment


@dataclass(frozen=True)
class PdeSettings:
    """The experiment's ``pde:`` block, typed (defaults filled in by the schema)."""

    cells: tuple[int, ...]
    frame: str
    cfl: float
    frame_step: float
    mass_tolerance: float
    resolution_tolerance: float
    domain: np.ndarray | None = None  # d x 2, or None: derived from the law and the flow
    frame_width: float = 7.0  # Fokker-Planck only
    time_step: float = 0.0025  # Fokker-Planck only
    theta: float = 0.5  # Fokker-Planck only

    @classmethod
    def of(cls, exp: Experiment) -> PdeSettings:
        pde = exp.pde
        known = {f.name for f in fields(cls)} - {"cells", "domain"}
        domain = np.asarray(pde["domain"], dtype=float) if "domain" in pde else None
        return cls(
            cells=tuple(np.atleast_1d(pde["cells"]).tolist()),
            domain=domain,
            **{k: pde[k] for k in known if k in pde},
        )

    @property
    def moving(self) -> bool:
        return self.frame == "moving"


def vlasov_frame(exp: Experiment, law) -> vlasov.Frame:
    """The grid of the Vlasov solve: ``pde.domain`` if given; else the initial law's
    support, moving with the flow, or (fixed frame) the box that holds the flow up to the
    final time."""
    pde = PdeSettings.of(exp)
    box = pde.domain if pde.domain is not None else law.support()
    if not pde.moving and pde.domain is None:
        box = _swept_box(exp, box, pde.cells)
    return vlasov.Frame.from_box(box, pde.cells, pde.moving)


def _swept_box(exp: Experiment, box: np.ndarray, cells) -> np.ndarray:
    """Hull of the initial box moved with the flow up to the final time, plus 5 %."""
    probe = vlasov.VlasovProblem(
        exp.activation, exp.segments, exp.feedback, vlasov.Frame.from_box(box, (8,) * len(cells))
    )
    empty = np.full((8,) * len(cells), 0.0)
    empty.flat[0] = 1.0
    sol = vlasov.solve(probe, empty, [exp.final_time])
    lo = np.minimum(box[:, 0], sol.lower[-1])
    hi = np.maximum(box[:, 1], sol.upper[-1])
    pad = 0.05 * (hi - lo)
    return np.stack([lo - pad, hi + pad], axis=1)


def vlasov_problem(exp: Experiment, data: dict[str, xr.Dataset], law=None) -> vlasov.VlasovProblem:
    """The experiment's Vlasov problem: σ, the (W, b) segments or feedback β, the frame."""
    pde = PdeSettings.of(exp)
    law = initial_law(exp, data) if law is None else law
    return vlasov.VlasovProblem(
        exp.activation,
        exp.segments,
        exp.feedback,
        vlasov_frame(exp, law),
        cfl=pde.cfl,
        frame_step=pde.frame_step,
        mass_tolerance=pde.mass_tolerance,
    )


def fokker_planck_problem(exp: Experiment, data) -> fokker_planck.FokkerPlanckProblem:
    """The experiment's Fokker-Planck problem: σ, the segments (b derived when fitting a
    target), K, the grid."""
    k, segments = diffusion_and_bias(exp, data)
    pde = PdeSettings.of(exp)
    return fokker_planck.FokkerPlanckProblem(
        exp.activation,
        segments,
        k,
        int(pde.cells[0]),
        frame=pde.frame,
        domain=tuple(pde.domain[0]) if pde.domain is not None else None,
        frame_width=pde.frame_width,
        frame_step=pde.frame_step,
        time_step=pde.time_step,
        theta=pde.theta,
        mass_tolerance=pde.mass_tolerance,
        resolution_tolerance=pde.resolution_tolerance,
        target=law_from_spec(exp.diffusion["target"], 1, data) if exp.fits_target else None,
    )


def problem(exp: Experiment, data):
    """The experiment's PDE problem, Vlasov or Fokker-Planck."""
    if exp.model == "fokker_planck":
        return fokker_planck_problem(exp, data)
    return vlasov_problem(exp, data)
