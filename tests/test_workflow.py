"""The workflow itself: lint, dry run, a bad config stopping it, and the .test run."""

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
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


def job_table(output: str) -> dict[str, int]:
    """The "Job stats:" table of a (dry) run's output as {rule: number of jobs}; empty when
    the output has none (nothing to be done)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Job stats:"]
    if not starts:
        return {}
    header, rule = lines[starts[0] + 1].split(), lines[starts[0] + 2].split()
    assert header == ["job", "count"] and all(set(r) == {"-"} for r in rule), output
    table = {}
    for line in lines[starts[0] + 3 :]:
        name, count = line.split()
        if name == "total":
            assert int(count) == sum(table.values()), output
            return table
        table[name] = int(count)
    raise AssertionError(f"job table without a total:\n{output}")


def planned_jobs(workdir, *args) -> dict[str, int]:
    """The job table of a dry run in workdir."""
    res = run(["-n", "--cores", "1", "--quiet", "rules", *args], workdir)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    return job_table(out)


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
    from meanfield_resnet.figures import FIGURES

    table = planned_jobs(workdir)
    assert table["data"] == 2 and table["table1"] == 1 and table["all"] == 1, table
    assert table["verification_table"] == 1, table
    assert table["figure"] == len(FIGURES), table
    for rule in ("particles", "pde", "moments", "meanfield_study", "solver_study"):
        assert table[rule] > 0, table
    for rule in ("sweep_point", "sweep_summary", "study_figure", "convergence_table"):
        assert table[rule] > 0, table


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
    """Kill a --cores 1 run (SIGKILL) while it works, rerun it, and compare it with the
    --cores 2 run of test_test_workflow_runs_end_to_end: every data variable bit for bit, and
    every file of results/ (figures, tables and netCDF files; logs, timings and the report
    aside) byte for byte, with no temporary file left."""
    import os
    import signal
    import time

    import numpy as np

    from test_reproducible import differing, result_hashes

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
    assert list(ours.rglob("*.part")) == [], "a temporary file outlived its job"
    hashes = result_hashes(ours), result_hashes(theirs)
    assert len(hashes[0]) > 50 and any(name.endswith(".pdf") for name in hashes[0])
    lines = differing(*hashes)
    assert not lines, "files that differ between the two runs:\n" + "\n".join(lines)


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
    planned = planned_jobs(tmp_path)
    # the verification table gathers every experiment's verification file
    expected = {"particles": 1, "pde": 1, "moments": 1, "figure": 1, "verification_table": 1}
    assert planned == {**expected, "all": 1}


@contextmanager
def touched(path: Path):
    """The file's modification time an hour ahead while the block runs, its content left as
    it is; the old time is put back afterwards unless someone wrote the file meanwhile."""
    stat = path.stat()
    future = time.time_ns() + 3600 * 10**9
    os.utime(path, ns=(stat.st_atime_ns, future))
    try:
        yield
    finally:
        if path.stat().st_mtime_ns == future:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# Jobs to redo after `touched`: by modification time alone (--rerun-triggers mtime; the code
# trigger would catch an edited workflow script without it being an input), and without the
# checksum comparison that clears an input whose content did not change
# (--max-checksum-file-size 0): a touched file stands for an edited one.
BY_MTIME = ["--rerun-triggers", "mtime", "--max-checksum-file-size", "0"]


@pytest.fixture(scope="module")
def every_job(completed):
    """The job table of the whole workflow (a forced dry run of the completed run)."""
    return planned_jobs(completed, "--forceall")


def test_edited_module_reruns_every_job_that_imports_it(completed, every_job):
    """The finite-volume kernels are imported (through vlasov) by the PDE, moment, table
    and study scripts: those jobs and everything downstream rerun, the data and the
    network's particles, which never run them, do not."""
    from meanfield_resnet.figures import FIGURES, experiments

    assert planned_jobs(completed, *BY_MTIME) == {}
    with touched(ROOT / "src/meanfield_resnet/finite_volume.py"):
        table = planned_jobs(completed, *BY_MTIME)
    for rule in ("pde", "sweep_point", "solver_study", "meanfield_study", "moments"):
        assert table.get(rule) == every_job[rule], (rule, table, every_job)
    # every figure that draws an experiment (fig5 draws the regression data only)
    assert table["figure"] == sum(1 for name in FIGURES if experiments(name))
    assert "data" not in table and "particles" not in table, table


def test_edited_plotting_reruns_only_the_figures(completed, every_job):
    with touched(ROOT / "src/meanfield_resnet/plotting.py"):
        table = planned_jobs(completed, *BY_MTIME)
    assert table == {rule: every_job[rule] for rule in ("figure", "study_figure", "all")}


def test_edited_workflow_script_reruns_its_jobs(completed, every_job):
    """An edited script reruns its jobs and what reads their outputs, nothing upstream: the
    moments jobs write each experiment's moments and verification files, read by the ledger
    table and by every figure that draws an experiment."""
    from meanfield_resnet.figures import FIGURES, experiments

    with touched(ROOT / "workflow/scripts/moments.py"):
        table = planned_jobs(completed, *BY_MTIME)
    drawing = sum(1 for name in FIGURES if experiments(name))
    assert 0 < drawing < len(FIGURES)
    expected = {"moments": every_job["moments"], "figure": drawing, "verification_table": 1}
    assert table == {**expected, "all": 1}


def test_unchanged_rerun_does_nothing(completed):
    res = run(["-n", "--cores", "1"], completed)
    assert "Nothing to be done" in res.stdout + res.stderr
