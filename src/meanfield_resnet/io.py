"""The on-disk schema: every dataset the workflow writes is built, described and written here.

Every variable carries ``long_name`` and ``units`` (from :data:`VARIABLES`); every file carries
``title``, ``source`` (package and version), ``history``, ``references`` (the paper's DOI),
the experiment's configuration as sorted JSON and its seed. Files are written under a
temporary name in the target folder and renamed, so an interrupted job never leaves a file
that looks complete; the temporary file goes with the job (see :func:`atomic`). Files are
created with the user's umask (like any other output) and carry nothing that changes
between runs: same configuration and seed, same bytes.

Inputs are checked as they are read (:func:`read`): a file that cannot be decoded, or that
belongs to another experiment than the job's, stops the job with a message naming the file
and the command that regenerates it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from . import PAPER_DOI, __version__

# name: (long_name, units); lengths are in the data's own unit ("1" for dimensionless)
VARIABLES = {
    "time": ("time (network depth t = k dt)", "1"),
    "axis": ("data component", "1"),
    "length": ("vehicle length", "m"),
    "is_truck": ("class: 1 truck (length > threshold), 0 car", "1"),
    "example_length": ("length of Table 1's example vehicle", "m"),
    "example_is_truck": ("class of Table 1's example vehicle", "1"),
    "position": ("measurement position x", "1"),
    "value": ("measured value y", "1"),
    "slope": ("numerical slope y/x of a measurement", "1"),
    "intercept": ("numerical intercept y - x of a measurement", "1"),
    "state": ("state x_i(t) of datum i in the network", "1"),
    "density": ("probability density f(t, x) (cell average)", "1/length^d"),
    "x": ("cell centre, first component", "1"),
    "y": ("cell centre, second component", "1"),
    "dx": ("cell width, first component", "1"),
    "dy": ("cell width, second component", "1"),
    "lower": ("lower edge of the grid box per component", "1"),
    "upper": ("upper edge of the grid box per component", "1"),
    "mass": ("total mass sum(density * cell volume)", "1"),
    "min_density": ("smallest density value", "1/length^d"),
    "steps": ("time steps taken since t = 0", "1"),
    "diffusion": ("diffusion K(x) at the cell centre", "1"),
    "target_density": ("target density g(x) (cell average)", "1/length^d"),
    "w1_to_target": ("Wasserstein-1 distance to the target law", "1"),
    "m0": ("zeroth moment m_0", "1"),
    "m1": ("first moment m_1", "1"),
    "m2": ("second moment m_2", "1"),
    "mean": ("mean m_1/m_0", "1"),
    "variance": ("variance m_2/m_0 - mean^2", "1"),
    "energy": ("energy m_2/m_0 (second moment)", "1"),
    "standard_error": ("Monte-Carlo standard error of the particle estimate", "1"),
    "source": ("where the moments come from: pde, particles or exact", "1"),
    "moment": ("moment name", "1"),
    "predicted_is_truck": ("network's class: 1 when the final state is above the threshold", "1"),
    "final_state": ("state of the datum after the last layer", "1"),
    "count": ("histogram count", "1"),
    "bin_edge": ("histogram bin edge", "1"),
    "particle_density": ("histogram density of the network's particles", "1/length^d"),
    "exact_density": ("exact density (cell average)", "1/length^d"),
    "experiment": ("experiment name", "1"),
    "cell_experiment": ("experiment of the cell value at this point", "1"),
    "time_experiment": ("experiment of the time value at this point", "1"),
    "view_lower": ("lower corner of the plotted window (central 99.9 % of the mass)", "1"),
    "view_upper": ("upper corner of the plotted window (central 99.9 % of the mass)", "1"),
    "solver": ("solver and test problem", "1"),
    "problem": ("exact-solution test problem", "1"),
    "level": ("refinement level", "1"),
    "cells": ("cells per axis", "1"),
    "l1_error": ("L1 error of the cell masses against the exact solution", "1"),
    "observed_order": ("observed order log2(e_{k-1}/e_k)", "1"),
    "mean_error": ("error of the mean against the exact solution, over max(|mean|, std)", "1"),
    "variance_error": ("relative error of the variance against the exact solution", "1"),
    "mass_drift": ("relative change of the mass since t = 0", "1"),
    "z_mean": ("|particle mean - PDE mean - Euler bias| / standard error, worst axis", "1"),
    "z_variance": ("|particle variance - PDE variance - Euler bias| / standard error", "1"),
    "design_order": ("design order of the scheme", "1"),
    "particles": ("number of particles M", "1"),
    "seed": ("independent run index", "1"),
    "w1": ("Wasserstein-1 distance between particles and PDE at the final time", "1"),
    "quantity": ("derivative of a moment", "1"),
    "sensitivity": ("derivative of the moment with respect to the parameter", "1"),
    "activation": ("activation function", "1"),
    "weight": ("weight w", "1"),
    "bias": ("bias b", "1"),
    "accuracy": ("fraction of vehicles classified correctly", "1"),
    "final_variance": ("variance of the mean-field solution at the final time", "1"),
    "log10_final_variance": ("log10 of the final variance", "1"),
    "target": ("target point of the flow (steady state)", "1"),
    "objective": ("training objective: mean_field or particles_<M>", "1"),
    "iteration": ("L-BFGS-B iteration (0: the start)", "1"),
    "segment": ("segment of constant (w, b)", "1"),
    "loss": ("classification loss J", "m2"),
    "gradient_norm": ("Euclidean norm of dJ/dtheta", "1"),
    "final_weight": ("trained weight w of the segment", "1"),
    "final_bias": ("trained bias b of the segment", "1"),
    "final_loss": ("loss J of the objective at its trained parameters", "m2"),
    "expected_loss": ("expected loss of the discrete network over the law (quadrature)", "m2"),
    "evaluations": ("objective evaluations of the training", "1"),
    "parameter": ("network parameter (w_s or b_s)", "1"),
    "theta": ("parameters at which the gradients are taken", "1"),
    "parameter_": ("network parameter (w_s or b_s), second index", "1"),
    "mean_field_theta": ("parameters trained on the mean-field objective", "1"),
    "particle_theta": ("parameters trained on M particles, from the mean-field ones", "1"),
    "limit_theta": ("minimiser of the network's expected loss (M = infinity)", "1"),
    "monte_carlo_sd": ("Monte-Carlo standard deviation of the particle-trained parameter", "1"),
    "monte_carlo_covariance": (
        "Monte-Carlo covariance H^-1 S H^-1 / M of the trained parameters",
        "1",
    ),
    "z": ("(particle - mean-field trained parameter) / Monte-Carlo sd", "1"),
    "bias_z": ("(expected-loss minimiser - mean-field trained parameter) / Monte-Carlo sd", "1"),
    "expected_gradient": ("expected gradient of the discrete network over the law", "1"),
    "mean_field_gradient": ("mean-field adjoint gradient", "1"),
    "gradient_distance": ("|particle gradient - expected discrete gradient|", "1"),
    "mean_field_distance": ("|particle gradient - mean-field adjoint gradient|", "1"),
}


def describe(ds: xr.Dataset) -> xr.Dataset:
    """Attach long_name and units to every variable and coordinate (error if one is unknown)."""
    for name in list(ds.variables):
        base = str(name).split("__")[0]
        if base not in VARIABLES:
            raise KeyError(f"variable {name!r} has no entry in io.VARIABLES (long_name, units)")
        long_name, units = VARIABLES[base]
        ds[name].attrs.setdefault("long_name", long_name)
        ds[name].attrs.setdefault("units", units)
    return ds


# variables measured in the data's unit, its square, and its inverse (per axis)
_LENGTH = ("state", "x", "y", "dx", "dy", "lower", "upper", "m1", "mean", "w1", "w1_to_target")
_SQUARE = ("m2", "variance", "energy", "diffusion")
_INVERSE = ("density", "min_density", "target_density", "particle_density", "exact_density")


def with_unit(ds: xr.Dataset, unit: str, dimension: int = 1) -> xr.Dataset:
    """Set the CF units of the variables that carry the data's unit: positions and moments
    ``unit``, second moments and K ``unit``², densities ``unit``^-d (all "1" when the data
    are dimensionless)."""
    dimensionless = unit in ("", "1")
    for names, power in ((_LENGTH, "1"), (_SQUARE, "2"), (_INVERSE, f"-{dimension}")):
        text = "1" if dimensionless else unit + ("" if power == "1" else power)
        for name in names:
            if name in ds.variables:
                ds[name].attrs["units"] = text
    return ds


def provenance(
    ds: xr.Dataset, title: str, config: dict | None = None, seed=None, **extra
) -> xr.Dataset:
    """Global attributes: title, source, history, references, config JSON, seed and extras."""
    ds.attrs.update(
        title=title,
        source=f"meanfield_resnet {__version__}",
        history=f"written by meanfield_resnet {__version__}",
        references=f"doi:{PAPER_DOI}",
        Conventions="CF-1.8",
    )
    if config is not None:
        ds.attrs["config"] = json.dumps(config, sort_keys=True)
    if seed is not None:
        ds.attrs["seed"] = json.dumps(seed)
    for key, value in extra.items():
        ds.attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    return ds


class InputFileError(RuntimeError):
    """An input file that cannot be used: unreadable (truncated, corrupt, missing) or written
    for another experiment. The message names the file and how to regenerate it."""


def regenerate_hint(path) -> str:
    """The plain instruction that regenerates ``path`` (and what depends on it)."""
    quoted = shlex.quote(str(path))
    return (
        f"Delete it and run the workflow again, which regenerates it: rm {quoted} && "
        "snakemake --cores all (with your usual options and targets)"
    )


def read(path, experiment: str | None = None) -> xr.Dataset:
    """Load a dataset eagerly (the file is closed on return), checking it on the way.

    A file that cannot be opened or decoded (truncated by a killed job or a full disk,
    corrupt, not netCDF, missing) raises :class:`InputFileError` naming the file and the
    command that regenerates it. With ``experiment``, a file whose ``experiment`` attribute
    differs (a file copied over another) or is absent is refused the same way."""
    try:
        ds = xr.load_dataset(path, engine="netcdf4")
    except FileNotFoundError:
        raise InputFileError(
            f"input file {path} does not exist. Run the workflow to create it: snakemake "
            "--cores all (with your usual options and targets)"
        ) from None
    except Exception as exc:  # netCDF4 and HDF5 report a damaged file in several ways
        raise InputFileError(
            f"input file {path} cannot be read as netCDF ({type(exc).__name__}: {exc}); "
            f"it is truncated or corrupt (a job killed while writing it, a full disk, an "
            f"interrupted copy?). {regenerate_hint(path)}"
        ) from None
    if experiment is not None:
        found = ds.attrs.get("experiment")
        if found != experiment:
            what = (
                "has no experiment attribute"
                if found is None
                else f"holds experiment {found!r} (its experiment attribute)"
            )
            raise InputFileError(
                f"input file {path} {what}, but this job expects experiment {experiment!r}: "
                f"was another experiment's file copied or moved over it? "
                f"{regenerate_hint(path)}"
            )
    return ds


def _part(path: Path) -> Path:
    """The temporary name under which ``path`` is written (hidden, next to it)."""
    return path.with_name(f".{path.name}.part")


def stale_parts(path) -> list[Path]:
    """Temporary files of ``path`` left behind by a killed writer: ``.<name>.part``, and
    ``.<name>.XXXXXXXX.part`` of earlier versions (random suffix)."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}(\.[A-Za-z0-9_]{{8}})?\.part")
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))


def remove_stale_parts(paths) -> list[Path]:
    """Remove the temporary files that killed writers left for ``paths`` (a job's outputs:
    only one job writes a given output, so any such file is stale); returns them."""
    removed = []
    for path in paths:
        for part in stale_parts(path):
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


@contextmanager
def atomic(path) -> Iterator[Path]:
    """Write ``path`` atomically: yields the temporary name to write, renamed to ``path``
    when the block succeeds; on any exception (KeyboardInterrupt included, and SIGTERM in a
    job, which :func:`meanfield_resnet.jobs.start` turns into SystemExit) the temporary file
    is removed. A SIGKILL cannot be caught: the next write of ``path`` (or the next start
    of a job with this output) removes what it left. The temporary file is created afresh
    by the writer (open(2), mode 0666 less the umask), so the file gets the user's umask
    like any other output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts([path])
    tmp = _part(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write(ds: xr.Dataset, path, missing_ok: bool = False) -> None:
    """Describe and write ``ds`` to ``path`` atomically (temporary file, then rename).
    NaN or Inf is refused unless ``missing_ok`` (tables where NaN means "not applicable")."""
    path = Path(path)
    describe(ds)
    for name, var in ds.data_vars.items():
        if missing_ok or var.dtype.kind != "f":
            continue
        if not np.all(np.isfinite(var.values)):
            raise FloatingPointError(f"refusing to write {path}: {name} has NaN or Inf")
    with atomic(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")


def write_text(text: str, path) -> None:
    """Write a text artefact atomically."""
    with atomic(path) as tmp:
        tmp.write_text(text)
