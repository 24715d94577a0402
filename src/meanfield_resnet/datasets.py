"""The paper's artificial data sets.

- Vehicles (Fig. 3, Table 1): lengths ~ U[length_min, length_max]; a vehicle is a truck when
  its length exceeds the threshold, a car otherwise.
- Regression (Fig. 5): y = slope·x + intercept + N(0, noise_std²) at equispaced positions, each
  measured ``repeats`` times; per measurement the numerical slope y/x and intercept y - x
  (the residual of the line through the origin with unit slope, as read from the caption).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import io
from .settings import Config


def vehicles(
    rng: np.random.Generator,
    count: int,
    length_min: float,
    length_max: float,
    threshold: float,
    examples: list[float],
) -> xr.Dataset:
    """Vehicle lengths and classes (1 = truck, 0 = car), plus Table 1's example rows."""
    length = rng.uniform(length_min, length_max, count)
    example = np.asarray(examples, dtype=float)
    return xr.Dataset(
        {
            "length": ("vehicle", length),
            "is_truck": ("vehicle", (length > threshold).astype(np.int8)),
            "example_length": ("example", example),
            "example_is_truck": ("example", (example > threshold).astype(np.int8)),
        },
        attrs={"threshold": float(threshold)},
    )


def regression(
    rng: np.random.Generator,
    position_min: float,
    position_max: float,
    positions: int,
    repeats: int,
    noise_std: float,
    slope: float,
    intercept: float,
) -> xr.Dataset:
    """Noisy measurements of a line and the per-measurement slopes and intercepts."""
    x = np.repeat(np.linspace(position_min, position_max, positions), repeats)
    y = slope * x + intercept + noise_std * rng.standard_normal(x.size)
    return xr.Dataset(
        {
            "position": ("measurement", x),
            "value": ("measurement", y),
            "slope": ("measurement", y / x),
            "intercept": ("measurement", y - x),
        }
    )


SOURCES = {
    "vehicles.length": ("vehicles", ["length"]),
    "regression.slope": ("regression", ["slope"]),
    "regression.intercept": ("regression", ["intercept"]),
    "regression.slope_intercept": ("regression", ["slope", "intercept"]),
}


def source_samples(source: str, data: dict[str, xr.Dataset]) -> np.ndarray:
    """Samples (n, d) of a config data source such as 'regression.slope_intercept'."""
    name, variables = SOURCES[source]
    return np.stack([data[name][v].values for v in variables], axis=1)


def vehicles_dataset(config: Config) -> xr.Dataset:
    """Fig. 3 / Table 1 data: vehicle lengths with classes."""
    spec = config.data["vehicles"]
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    ds = vehicles(rng, **spec)
    return io.provenance(ds, "Vehicle lengths (Fig. 3, Table 1)", spec, config.seed)


def regression_dataset(config: Config) -> xr.Dataset:
    """Fig. 5 data: noisy measurements of a line, numerical slopes and intercepts."""
    spec = config.data["regression"]
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
    ds = regression(rng, **spec)
    return io.provenance(ds, "Regression measurements (Fig. 5)", spec, config.seed)
