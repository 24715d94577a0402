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


@pytest.fixture(scope="module")
def completed(workdir):
    """The .test workflow run once with --cores 2; returns the working directory."""
    res = run(["--cores", "2"], workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return workdir


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


def test_test_workflow_runs_end_to_end(completed):
    workdir = completed
    results = workdir / "results"
    for path in results.rglob("*.nc"):
        with xr.open_dataset(path) as ds:
            assert ds.attrs["references"] == "doi:10.3934/fods.2022007"
    for n in range(1, 11):
        assert (results / f"figures/fig{n}.png").stat().st_size > 10_000
    for study in ("meanfield", "convergence", "sensitivities", "steady_states", "sweep"):
        assert (results / f"figures/study_{study}.png").stat().st_size > 10_000
    assert "accuracy" in (results / "tables/table1.md").read_text().lower()


def _data_files(results):
    return sorted(p.relative_to(results) for p in results.rglob("*.nc"))


def test_interrupted_serial_run_finishes_and_equals_the_parallel_run(completed, tmp_path):
    """Kill a --cores 1 run (SIGKILL) while it works, rerun it, and compare every data
    variable bit for bit with the --cores 2 run of test_test_workflow_runs_end_to_end."""
    import os
    import signal
    import time

    import numpy as np

    shutil.copytree(ROOT / ".test/config", tmp_path / "config")
    proc = subprocess.Popen(
        SNAKEMAKE + ["--cores", "1"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "results/pde").glob("*.nc")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = list((tmp_path / "results").rglob("*.part"))
    for part in leftovers:  # a killed writer may leave its temporary file, never a .nc
        assert not part.name.endswith(".nc")
    assert run(["--unlock"], tmp_path).returncode == 0  # a killed run leaves its lock
    res = run(["--cores", "1"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    ours, theirs = tmp_path / "results", completed / "results"
    assert _data_files(ours) == _data_files(theirs)
    for rel in _data_files(ours):
        a, b = xr.load_dataset(ours / rel), xr.load_dataset(theirs / rel)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(rel))


def test_changing_one_parameter_reruns_only_its_jobs(completed, tmp_path):
    workdir = completed
    shutil.copytree(workdir / "config", tmp_path / "config")
    shutil.copytree(workdir / "results", tmp_path / "results")
    shutil.copytree(
        workdir / ".snakemake",
        tmp_path / ".snakemake",
        ignore=shutil.ignore_patterns("locks", "incomplete"),
    )
    cfg = yaml.safe_load((tmp_path / "config/config.yaml").read_text())
    cfg["experiments"]["fig7_regression_1d"]["bias"] = -0.5
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    res = run(["-n", "--cores", "1", "--quiet", "rules"], tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    planned = {
        line.split()[0]: int(line.split()[1])
        for line in out.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit() and line.split()[0] != "total"
    }
    assert planned == {"particles": 1, "pde": 1, "moments": 1, "figure": 1, "all": 1}, out


def test_changed_solver_source_reruns_the_solver_jobs(completed):
    """An edited solver module reruns the solver's jobs (and not the data). Snakemake
    compares checksums, so the file's content is changed for the dry run and restored."""
    import os

    source = ROOT / "src/meanfield_resnet/vlasov.py"
    original, stat = source.read_bytes(), source.stat()
    try:
        source.write_bytes(original + b"\n# edited by test_workflow\n")
        res = run(["-n", "--cores", "1", "--quiet", "rules"], completed)
    finally:
        source.write_bytes(original)
        os.utime(source, (stat.st_atime, stat.st_mtime))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "pde" in out and "data " not in out, out[-2000:]


def test_unchanged_rerun_does_nothing(completed):
    res = run(["-n", "--cores", "1"], completed)
    assert "Nothing to be done" in res.stdout + res.stderr
