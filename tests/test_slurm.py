"""The SLURM profile against a real SLURM cluster (started by scripts/slurm_cluster.sh).

Skipped when no cluster answers (`sinfo` fails); `.ci/run` starts one so that it runs there.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow/Snakefile")]
PROFILE = ["--profile", str(ROOT / "workflow/profiles/slurm")]
# One job of every kind of rule the profile must place (13 jobs): the data, particles, a
# Vlasov and a Fokker-Planck solve, moments, figures, a solver study, a sweep point and a
# training run. The whole `all` target takes 10 minutes under SLURM here (a job's sbatch
# and start dominate), the same rules' jobs once each prove the same.
TARGETS = [
    "results/figures/fig4.png",
    "results/figures/fig9.png",
    "results/studies/convergence.nc",
    "results/sweep/activation~tanh_weight~1.0_bias~-4.0.nc",
    "results/training/vehicles.nc",
]


def _cluster_up() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(not _cluster_up(), reason="no SLURM cluster answers"),
]


def _workdir(tmp_path: Path, name: str) -> Path:
    work = tmp_path / name
    shutil.copytree(ROOT / ".test/config", work / "config")
    return work


def _run(args, cwd, timeout):
    return subprocess.run(
        SNAKEMAKE + args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def test_slurm_run_equals_local_run(tmp_path):
    cluster, local = _workdir(tmp_path, "cluster"), _workdir(tmp_path, "local")
    keep_logs = ["--slurm-keep-successful-logs"]  # else deleted when a job succeeds
    res = _run(PROFILE + keep_logs + TARGETS, cluster, timeout=1500)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-5000:]
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", out, re.M)
    # every job but the local rules' (moments, figures) went to SLURM, each with its own id:
    # data, particles, pde, a study, a sweep point, training
    remote = re.findall(r"^rule (\w+):$", out, re.M)
    assert len(remote) >= 8 and "localrule figure:" in out, out[-3000:]
    assert len({jobid for jobid, _ in submitted}) == len(remote), out[-3000:]
    # Every job ran under SLURM with the id reported, checked in the job's SLURM log: sbatch
    # is given `--output <dir>/%j.log`, and SLURM replaces %j with the job's id when it starts
    # the batch script, so `<id>.log` exists only for a job SLURM started under that id, and
    # it holds the job's own Snakemake output. Unlike squeue, which forgets a finished job
    # MinJobAge (600 s) after it ends, the file outlasts a run however long it takes.
    logs = cluster.resolve() / ".snakemake/slurm_logs"
    for jobid, log in submitted:
        log = Path(log)
        assert log.name == f"{jobid}.log" and log.is_relative_to(logs), log
        rule = log.relative_to(logs).parts[0].removeprefix("rule_")
        assert f"(Rule: {rule})" in log.read_text(), (jobid, log.read_text()[-2000:])
    assert _run(["--cores", "2"] + TARGETS, local, timeout=1500).returncode == 0
    files = sorted(p.relative_to(local / "results") for p in (local / "results").rglob("*.nc"))
    assert files == sorted(
        p.relative_to(cluster / "results") for p in (cluster / "results").rglob("*.nc")
    )
    for rel in files:
        a, b = xr.load_dataset(cluster / "results" / rel), xr.load_dataset(local / "results" / rel)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(rel))


def test_failing_slurm_job_fails_the_run(tmp_path):
    work = _workdir(tmp_path, "failing")
    cfg = yaml.safe_load((work / "config/config.yaml").read_text())
    cfg["experiments"]["fig4_tanh"]["pde"].update(frame="fixed", domain=[[2.0, 8.0]])
    (work / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    res = _run(PROFILE + ["results/pde/fig4_tanh.nc"], work, timeout=600)
    assert res.returncode != 0
    assert not (work / "results/pde/fig4_tanh.nc").exists()
    log = (work / "results/logs/pde/fig4_tanh.log").read_text()
    assert "mass left the domain" in log
