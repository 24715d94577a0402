"""The workflow itself: lint, dry run, a bad config stopping it, and the .test run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile")]


def run(args, cwd, timeout=900):
    return subprocess.run(
        SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the .test configuration in a fresh working directory."""
    work = tmp_path_factory.mktemp("wf")
    shutil.copytree(ROOT / ".test/config", work / "config")
    return work


def test_lint(workdir):
    res = run(["--lint"], workdir)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dry_run_lists_every_stage(workdir):
    res = run(["-n", "--cores", "1"], workdir)
    assert res.returncode == 0, res.stderr
    for rule in ("data", "particles", "pde", "moments", "figure", "table1"):
        assert rule in res.stdout


def test_bad_config_stops_before_any_job(tmp_path):
    shutil.copytree(ROOT / ".test/config", tmp_path / "config")
    cfg = yaml.safe_load((tmp_path / "config/config.yaml").read_text())
    cfg["experiments"]["fig4_tanh"]["pde"]["cfl"] = 2.0
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    res = run(["--cores", "1"], tmp_path)
    assert res.returncode != 0
    assert "experiments.fig4_tanh.pde.cfl" in res.stdout + res.stderr
    assert not (tmp_path / "results").exists()


def test_test_workflow_runs_end_to_end(workdir):
    res = run(["--cores", "2"], workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    results = workdir / "results"
    for path in results.rglob("*.nc"):
        with xr.open_dataset(path) as ds:
            assert ds.attrs["references"] == "doi:10.3934/fods.2022007"
    for n in range(1, 11):
        assert (results / f"figures/fig{n}.png").stat().st_size > 10_000
    assert "accuracy" in (results / "tables/table1.md").read_text().lower()
    again = run(["-n", "--cores", "1"], workdir)
    assert "Nothing to be done" in again.stdout + again.stderr
