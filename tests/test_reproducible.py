"""Same configuration and seed, same bytes: figures and netCDF files carry nothing that
varies between runs. The helpers hash results/ for the workflow test that compares an
interrupted --cores 1 run with a --cores 2 run file by file
(tests/test_workflow.py)."""

import hashlib
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from meanfield_resnet import io, plotting

EXCLUDED = ("logs", "benchmarks")  # folders of results/ that differ by nature


def _is_report(rel: Path) -> bool:
    """A Snakemake report (snakemake --report results/report.html or .zip)."""
    return rel.name.startswith("report") and rel.suffix in (".html", ".zip")


def result_hashes(results: Path) -> dict[str, str]:
    """SHA-256 of every file under ``results`` but the excluded folders and reports, by
    path relative to ``results``."""
    hashes = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results)
        if not path.is_file() or rel.parts[0] in EXCLUDED or _is_report(rel):
            continue
        hashes[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Lines naming every file whose bytes differ, or that only one side has."""
    lines = []
    for name in sorted(a.keys() | b.keys()):
        if name not in b or name not in a:
            lines.append(f"{name}: only in the {'first' if name in a else 'second'} run")
        elif a[name] != b[name]:
            lines.append(f"{name}: {a[name][:12]} != {b[name][:12]}")
    return lines


def _figure():
    fig, ax = plt.subplots()
    ax.pcolormesh(np.arange(12.0).reshape(3, 4))
    ax.plot([0, 3], [0, 2], "o-", label="µ, σ²")
    ax.legend()
    return fig


def test_figures_carry_no_date_and_repeat_byte_for_byte(tmp_path):
    paths = []
    for n in range(2):
        if n:
            time.sleep(1.1)  # a creation date would now differ
        png, pdf = tmp_path / f"{n}.png", tmp_path / f"{n}.pdf"
        plotting.save(_figure(), png, pdf, footer="fig4_tanh: L1 1e-3")
        paths.append((png.read_bytes(), pdf.read_bytes()))
    assert paths[0] == paths[1]
    png, pdf = paths[0]
    assert b"CreationDate" not in pdf and b"ModDate" not in pdf and b"/ID" not in pdf
    assert b"tIME" not in png  # PNG's modification-time chunk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.pdf", "0.png", "1.pdf", "1.png"]


def test_netcdf_carries_no_date_and_repeats_byte_for_byte(tmp_path):
    ds = xr.Dataset({"density": (("time", "cell"), np.arange(12.0).reshape(3, 4))})
    ds = io.provenance(ds, "title", {"a": 1}, 7, experiment="fig4_tanh")
    io.write(ds, tmp_path / "a.nc")
    time.sleep(1.1)  # HDF5 object modification times (when tracked) would now differ
    io.write(ds, tmp_path / "b.nc")
    assert (tmp_path / "a.nc").read_bytes() == (tmp_path / "b.nc").read_bytes()
    assert time.strftime("%Y") not in io.read(tmp_path / "a.nc").attrs["history"]
