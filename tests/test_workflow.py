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


def run(args, cwd, timeout=900, code: Path = ROOT):
    """Snakemake in ``cwd`` with the workflow and the package of ``code``: this checkout, or
    a copy of its workflow/ and src/ (see ``code_copy``), whose package then comes first on
    the path of Snakemake and of its jobs."""
    env = dict(os.environ)
    if code != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code / "src"), env.get("PYTHONPATH")) if p
        )
    command = [sys.executable, "-m", "snakemake", "-s", str(code / "workflow/Snakefile")]
    return subprocess.run(
        command + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
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


def planned_jobs(workdir, *args, code: Path = ROOT) -> dict[str, int]:
    """The job table of a dry run in workdir (with the workflow and package of ``code``)."""
    res = run(["-n", "--cores", "1", "--quiet", "rules", *args], workdir, code=code)
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
    for rule in ("training_run", "training_gradient", "training_agreement", "training_figure"):
        assert table[rule] == 1, table
    for rule in ("training_regression", "training_regression_figure"):
        assert table[rule] == 1, table


def job_resources(output: str) -> dict[str, set]:
    """{rule: the set of (threads, resources) of its jobs} from a dry run's job listing."""
    import re

    jobs: dict[str, set] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        name = re.match(r"(?:local)?rule (\w+):", block)
        if name:
            threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
            found = re.search(r"^\s+resources: (.*)$", block, re.M)
            pairs = (item.split("=", 1) for item in found.group(1).split(", ")) if found else ()
            resources = {k: v for k, v in pairs if k in ("mem_mb", "runtime", "cpus_per_task",
                                                          "slurm_partition")}  # fmt: skip
            entry = (int(threads.group(1)) if threads else 1, tuple(sorted(resources.items())))
            jobs.setdefault(name.group(1), set()).add(entry)
    return jobs


TRAINING_RULES = ("training_run", "training_gradient", "training_agreement")


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_jobs_ask_for_the_resources_declared_in_the_rules(workdir, profile):
    """Threads and memory are declared once (rules/common.smk): 4000 MB for a solver job,
    with 2 threads for the training jobs, 1 for the solver studies, and for the pde and
    particles jobs 2 only where their kernels can use them (the .test grids and networks
    are small; tests/test_parallel.py has the sizes, and the default config's jobs are
    checked below); 8000 MB and an hour for the mean-field study. The same locally (the
    default profile) and on SLURM, where the other jobs get the profile's defaults and a
    job's CPUs are its threads (no cpus_per_task)."""
    args = ["-n", "all", "studies"]
    if profile == "slurm":
        args += ["--profile", str(ROOT / "workflow/profiles/slurm")]
    res = run(args, workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = job_resources(res.stdout + res.stderr)
    site = (("slurm_partition", "debug"),) if profile == "slurm" else ()
    light = (("mem_mb", "1000"), ("runtime", "30"), *site) if profile == "slurm" else ()
    runtime = (("runtime", "30"),) if profile == "slurm" else ()
    solver = tuple(sorted((("mem_mb", "4000"), *runtime, *site)))
    expected = {
        **{rule: {(2, solver)} for rule in TRAINING_RULES},
        "solver_study": {(1, solver)},
        "pde": {(1, solver)},  # the .test grids are below the parallel size
        "particles": {(1, solver)},  # and its networks small
        "meanfield_study": {(2, tuple(sorted((("mem_mb", "8000"), ("runtime", "60"), *site))))},
    }
    assert set(expected) < set(jobs) and len(jobs) > len(expected) + 5, jobs
    for rule, entries in jobs.items():
        assert entries == expected.get(rule, {(1, tuple(sorted(light)))}), (rule, entries)


def test_the_default_config_asks_for_threads_where_its_grids_and_networks_are_large(tmp_path):
    """With the default config, the pde jobs of the 2-D experiments (160² cells) and the
    particles jobs of the stochastic networks (about a second of kernel each) ask for 2
    threads; the 1-D Vlasov and Fokker-Planck grids and the deterministic networks of 10^5
    particles for 1."""
    import re

    shutil.copytree(ROOT / "config", tmp_path / "config")
    res = run(["-n", "--cores", "2", "all"], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    threads = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", res.stdout + res.stderr):
        head = re.match(r"rule (pde|particles):", block)
        if head:
            experiment = re.search(r"wildcards: experiment=(\w+)", block).group(1)
            count = re.search(r"^\s+threads: (\d+)$", block, re.M)
            threads[(head.group(1), experiment)] = int(count.group(1)) if count else 1
    two = {key for key, n in threads.items() if n == 2}
    assert two == {
        ("pde", "fig6_regression_2d"),
        ("pde", "fig8_novel_target"),
        ("particles", "fig9_fokker_planck"),
        ("particles", "fit_uniform"),
    }, threads
    assert len(threads) > 15 and set(threads.values()) == {1, 2}


#: the figures of rules/training.smk (their own rules, not FIGURES)
TRAINING_FIGURES = ("training", "training_regression")


def test_every_figure_and_study_has_its_caption():
    """One report caption per figure (meanfield_resnet.figures.FIGURES) and per study
    (meanfield_resnet.studies.STUDIES, the studies of rules/studies.smk): plain text of
    workflow/report/<figures|studies>/<name>.rst, shown by the template report/caption.rst."""
    import re

    from meanfield_resnet.figures import FIGURES
    from meanfield_resnet.studies import STUDIES

    report = ROOT / "workflow/report"
    rules = (ROOT / "workflow/rules/studies.smk").read_text()
    assert re.search(r"^STUDIES = list\(package_studies\.STUDIES\)$", rules, re.M)
    # the training figures have their own rules (rules/training.smk)
    for kind, names in (("figures", [*FIGURES, *TRAINING_FIGURES]), ("studies", STUDIES)):
        assert {p.stem for p in (report / kind).glob("*.rst")} == set(names), kind
        for name in names:
            text = (report / kind / f"{name}.rst").read_text()
            assert text.startswith("**") and text.endswith("\n"), (kind, name)
            assert "{{" not in text and "{%" not in text, (kind, name)  # no template
    assert "snakemake.params.caption" in (report / "caption.rst").read_text()


def test_bad_config_stops_before_any_job(tmp_path):
    shutil.copytree(ROOT / ".test/config", tmp_path / "config")
    cfg = yaml.safe_load((tmp_path / "config/config.yaml").read_text())
    cfg["experiments"]["fig4_tanh"]["pde"]["cfl"] = 2.0
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    res = run(["--cores", "1"], tmp_path)
    assert res.returncode != 0
    assert "experiments.fig4_tanh.pde.cfl" in res.stdout + res.stderr
    assert not (tmp_path / "results").exists()


def test_configfile_with_laws_of_another_kind_plans_the_run(tmp_path):
    """A --configfile that gives an experiment a Gaussian initial law instead of the
    default's uniform one, and a polynomial diffusion instead of a constant, is that law and
    that diffusion (Snakemake alone would merge the default's keys into them, which the
    schema refuses); a key the new kind does not have is still refused, by name."""
    shutil.copytree(ROOT / ".test/config", tmp_path / "config")
    yours = {"experiments": {
        "fig1_b0": {"initial": {"kind": "gaussian", "mean": 4.0, "std": 0.8}},
        "fig9_fokker_planck": {"diffusion": {"kind": "polynomial", "coefficients": [0.5]}},
    }}  # fmt: skip
    (tmp_path / "yours.yaml").write_text(yaml.safe_dump(yours))
    res = run(["-n", "--cores", "1", "--configfile", "yours.yaml"], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    yours["experiments"]["fig1_b0"]["initial"]["low"] = 1.0
    (tmp_path / "yours.yaml").write_text(yaml.safe_dump(yours))
    res = run(["-n", "--cores", "1", "--configfile", "yours.yaml"], tmp_path)
    assert res.returncode != 0
    assert "experiments.fig1_b0.initial" in res.stdout + res.stderr


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
    for name in TRAINING_FIGURES:
        assert (results / f"figures/{name}.png").stat().st_size > 10_000
    for name in ("vehicles", "gradient_convergence", "agreement", "regression"):
        assert (results / f"training/{name}.nc").exists()
    assert "accuracy" in (results / "tables/table1.md").read_text().lower()


def test_experiment_outputs_name_the_paper_figure(completed):
    """The experiments' `figure` key: a column of the ledger and an attribute of each
    experiment's files."""
    import pandas as pd

    results = completed / "results"
    config = yaml.safe_load((completed / "config/config.yaml").read_text())["experiments"]
    ledger = pd.read_csv(results / "tables/verification.csv", dtype={"paper_figure": str})
    assert list(ledger.columns[:2]) == ["experiment", "paper_figure"]
    assert dict(zip(ledger.experiment, ledger.paper_figure, strict=True)) == {
        name: config[name]["figure"] for name in ledger.experiment
    }
    header = (results / "tables/verification.md").read_text().splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")][:2] == ["experiment", "paper_figure"]
    for stage in ("particles", "pde", "moments", "verification"):
        for path in (results / stage).glob("*.nc"):
            with xr.open_dataset(path) as ds:
                assert ds.attrs["paper_figure"] == config[path.stem]["figure"], path


def test_figures_carry_their_captions(completed):
    from PIL import Image

    results = completed / "results"
    for name in ("fig4", "study_sweep"):
        kind, stem = ("studies", "sweep") if name.startswith("study_") else ("figures", name)
        caption = (ROOT / f"workflow/report/{kind}/{stem}.rst").read_text()
        assert Image.open(results / f"figures/{name}.png").info["Description"] == caption
    with xr.open_dataset(results / "figures/fig4.nc") as ds:
        assert ds.attrs["caption"].startswith("**Figure 4.**")


def test_report_builds_with_every_caption(completed, tmp_path):
    """`snakemake --report` of the completed run: every figure and study figure under its
    own caption, the text of its file (workflow/report/<figures|studies>/<name>.rst)."""
    import html
    import json
    import re

    from meanfield_resnet.figures import FIGURES
    from meanfield_resnet.studies import STUDIES

    report = tmp_path / "report.html"
    res = run(["--report", str(report)], completed, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    page = report.read_text()
    # each result's entry in the report's data: {"results/figures/x.png": {..., "caption"}}
    entry = r'"results/figures/([\w.]+)\.png": \{[^{}]*?"caption": ("(?:[^"\\]|\\.)*")'
    captions = {name: json.loads(text) for name, text in re.findall(entry, page)}
    expected = {**{name: ("figures", name) for name in [*FIGURES, *TRAINING_FIGURES]},
                **{f"study_{name}": ("studies", name) for name in STUDIES}}  # fmt: skip
    assert set(captions) == set(expected)

    def words(text):
        return " ".join(text.split())

    for name, (kind, stem) in expected.items():
        source = (ROOT / f"workflow/report/{kind}/{stem}.rst").read_text()
        shown = html.unescape(re.sub(r"<[^>]+>", "", captions[name]))
        assert words(shown) == words(source.replace("**", "")), name


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


@pytest.fixture(scope="module")
def code_copy(tmp_path_factory):
    """A copy of the workflow and the package, modification times kept: the tests that
    stand for an edit by moving a file's modification time move the copy's, never a file
    of this checkout (which other processes may be reading, and a killed test would leave
    an hour in the future). A dry run of the completed run with the copy plans nothing."""
    code = tmp_path_factory.mktemp("code")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "workflow", code / "workflow", ignore=skip)  # copy2: mtimes kept
    shutil.copytree(ROOT / "src/meanfield_resnet", code / "src/meanfield_resnet", ignore=skip)
    shutil.copy2(ROOT / "environment.yml", code / "environment.yml")
    return code


@contextmanager
def touched(path: Path):
    """The file's modification time an hour ahead while the block runs, its content left as
    it is; the old time is put back afterwards unless someone wrote the file meanwhile."""
    assert not path.is_relative_to(ROOT), f"{path}: touch a copy, never this checkout"
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


def test_edited_module_reruns_every_job_that_imports_it(completed, every_job, code_copy):
    """The finite-volume kernels are imported (through vlasov) by the PDE, moment, table
    and study scripts: those jobs and everything downstream rerun, the data and the
    network's particles, which never run them, do not."""
    from meanfield_resnet.figures import FIGURES, experiments

    assert planned_jobs(completed, *BY_MTIME, code=code_copy) == {}
    with touched(code_copy / "src/meanfield_resnet/finite_volume.py"):
        table = planned_jobs(completed, *BY_MTIME, code=code_copy)
    for rule in ("pde", "sweep_point", "solver_study", "meanfield_study", "moments"):
        assert table.get(rule) == every_job[rule], (rule, table, every_job)
    # every figure that draws an experiment (fig5 draws the regression data only)
    assert table["figure"] == sum(1 for name in FIGURES if experiments(name))
    assert "data" not in table and "particles" not in table, table


def test_edited_plotting_reruns_only_the_figures(completed, every_job, code_copy):
    with touched(code_copy / "src/meanfield_resnet/plotting.py"):
        table = planned_jobs(completed, *BY_MTIME, code=code_copy)
    drawing = ("figure", "study_figure", "training_figure", "training_regression_figure", "all")
    assert table == {rule: every_job[rule] for rule in drawing}


def test_edited_workflow_script_reruns_its_jobs(completed, every_job, code_copy):
    """An edited script reruns its jobs and what reads their outputs, nothing upstream: the
    moments jobs write each experiment's moments and verification files, read by the ledger
    table and by every figure that draws an experiment."""
    from meanfield_resnet.figures import FIGURES, experiments

    with touched(code_copy / "workflow/scripts/moments.py"):
        table = planned_jobs(completed, *BY_MTIME, code=code_copy)
    drawing = sum(1 for name in FIGURES if experiments(name))
    assert 0 < drawing < len(FIGURES)
    expected = {"moments": every_job["moments"], "figure": drawing, "verification_table": 1}
    assert table == {**expected, "all": 1}


def test_unchanged_rerun_does_nothing(completed):
    res = run(["-n", "--cores", "1"], completed)
    assert "Nothing to be done" in res.stdout + res.stderr
