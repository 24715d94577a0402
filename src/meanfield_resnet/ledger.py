"""The verification ledger as a table: one line per experiment, the worst value of each
quantity of its ``results/verification/<experiment>.nc`` over the output times, and the same
line in words for the figure captions (see ``verification`` for what each quantity is)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

# What the ledger must show for the default configuration (checked by the tests): errors
# against exact solutions (L1 from t = 0.5 on), mass drift, and |z| of particles vs PDE.
THRESHOLDS = {
    "l1_error": 1e-4,
    "mean_error": 1e-4,
    "variance_error": 1e-4,
    "mass_drift": 1e-11,  # round-off over thousands of implicit steps
    "z_mean": 5.0,
    "z_variance": 5.0,
}
COLUMNS = ["experiment", "paper_figure", "model", "exact_solution", "l1_error", "mean_error",
           "variance_error", "mass_drift", "min_density", "w1_to_target_final", "z_mean",
           "z_variance", "euler_bias_removed"]  # fmt: skip


def ledger_table(parts: list[xr.Dataset]) -> pd.DataFrame:
    """One line per experiment: the paper figure it serves (config key ``figure``, empty
    where not given) and the worst value of each quantity over its output times."""
    rows = []
    for ds in parts:
        row = {"experiment": ds.attrs["experiment"], "model": ds.attrs["model"],
               "exact_solution": ds.attrs["exact_solution"],
               "paper_figure": ds.attrs.get("paper_figure", "")}  # fmt: skip
        late = ds.time >= min(0.5, float(ds.time.max()))  # L1 from t = 0.5 (initial layer)
        row["l1_error"] = _worst(ds["l1_error"].where(late))
        for name in ("mean_error", "variance_error", "mass_drift", "z_mean", "z_variance"):
            row[name] = _worst(ds[name])
        low = ds["min_density"]
        row["min_density"] = float(low.min()) if low.notnull().any() else np.nan
        row["w1_to_target_final"] = float(ds["w1_to_target"].values[-1])
        row["euler_bias_removed"] = bool(ds.attrs["euler_bias_removed"])
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _worst(values: xr.DataArray) -> float:
    return float(values.max()) if values.notnull().any() else np.nan


def caption_line(row: pd.Series) -> str:
    """The ledger line of one experiment, in words, for a figure caption."""
    parts = [f"{row['experiment']}:"]
    if np.isfinite(row["l1_error"]):
        parts.append(
            f"L1 {row['l1_error']:.1e}, mean {row['mean_error']:.1e}, "
            f"variance {row['variance_error']:.1e} from the exact solution;"
        )
    if np.isfinite(row["mass_drift"]):
        parts.append(f"mass drift {row['mass_drift']:.1e}, min density {row['min_density']:.1e};")
    if np.isfinite(row["w1_to_target_final"]):
        parts.append(f"W1 to the target {row['w1_to_target_final']:.1e};")
    if np.isfinite(row["z_mean"]):
        bias = "Euler bias removed" if row["euler_bias_removed"] else "Euler bias included"
        z = max(row["z_mean"], row["z_variance"])
        parts.append(f"particles vs PDE |z| ≤ {z:.1f} ({bias})")
    if len(parts) == 1:
        parts.append("network particles only, nothing to compare with")
    return " ".join(parts).rstrip(";")
