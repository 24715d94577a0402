"""The whole pipeline: wall time of ``snakemake --cores 2`` on the default configuration from
a clean results/, with an empty numba cache (every job compiles) and with a filled one, and
where the time goes: per rule the jobs' summed seconds and their share of the critical path,
read from Snakemake's log (whole seconds); and the floor under it, the seconds a job's process
takes before any work (start-up and the package's imports, and numba's first kernel load).

    python benchmarks/pipeline.py            # two full pipeline runs (minutes); writes
                                             # benchmarks/results/pipeline.json
    python benchmarks/pipeline.py --smoke    # the same command as a dry run (-n), once, and
                                             # one process of each job floor

(--full measures the same as the quick run; --out DIR writes elsewhere.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, log, subject_main


def _snakemake(work, env, *extra):
    """`snakemake --cores 2` in ``work`` with the repository's Snakefile."""
    root = HERE.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(root / "workflow/Snakefile"),
            "--cores",
            "2",
            *extra,
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_FINISH = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def job_times(log_text):
    """{jobid: {rule, start, end (s, whole seconds as Snakemake logs them), inputs, outputs}}
    from Snakemake's log of a run."""
    jobs, stamp, current = {}, None, None
    for line in log_text.splitlines():
        text = line.strip()
        if match := _STAMP.match(line):
            stamp = time.mktime(time.strptime(match[1], "%a %b %d %H:%M:%S %Y"))
        elif match := _START.match(line):
            current = {"rule": match[1], "start": stamp, "inputs": [], "outputs": []}
        elif current is not None and text.startswith(("input:", "output:", "jobid:")):
            key, _, value = text.partition(": ")
            if key == "jobid":
                jobs[int(value)] = current
            else:
                current[key + "s"] = value.split(", ")
        elif match := _FINISH.match(line):
            jobs[int(match[1])]["end"] = stamp
    return {k: job for k, job in jobs.items() if job.get("end") is not None}


def where_time_goes(jobs):
    """Per rule: jobs, summed job seconds, the longest job, and its seconds on the critical
    path (the chain of dependent jobs, an output of each the input of the next, with the
    largest summed duration)."""
    producer = {out: k for k, job in jobs.items() for out in job["outputs"]}
    longest, via = {}, {}
    for k in sorted(jobs, key=lambda k: jobs[k]["start"]):
        parents = [producer[i] for i in jobs[k]["inputs"] if producer.get(i) in longest]
        best = max(parents, key=lambda p: longest[p], default=None)
        duration = jobs[k]["end"] - jobs[k]["start"]
        longest[k] = duration + (longest[best] if best is not None else 0.0)
        via[k] = best
    rules = {}
    for job in jobs.values():
        row = rules.setdefault(job["rule"], {"jobs": 0, "job_s": 0.0, "longest_job_s": 0.0,
                                             "critical_path_s": 0.0})  # fmt: skip
        duration = job["end"] - job["start"]
        row["jobs"] += 1
        row["job_s"] += duration
        row["longest_job_s"] = max(row["longest_job_s"], duration)
    k = max(longest, key=longest.get, default=None)
    path = longest.get(k, 0.0)
    while k is not None:
        rules[jobs[k]["rule"]]["critical_path_s"] += jobs[k]["end"] - jobs[k]["start"]
        k = via[k]
    return {"critical_path_s": path, "rules": rules}


def _newest_log(work):
    logs = sorted((Path(work) / ".snakemake" / "log").glob("*.snakemake.log"))
    return logs[-1].read_text() if logs else ""


def _project(work):
    """Copy the configuration into the fresh work folder (a copy, not a link: the workflow
    refuses a sweep table that resolves outside the folder it runs in)."""
    shutil.copytree(HERE.parent / "config", Path(work) / "config")


def pipeline():
    """Wall time of `snakemake --cores 2` on the default config from a clean results/,
    with an empty numba cache (cold: every job compiles) and with the cache filled (warm)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold_cache", "warm_cache"):
            with tempfile.TemporaryDirectory() as work:
                _project(work)
                # the package's cache base: inherited from this process (which imported
                # the package), it would point the cold run at the user's filled cache
                env = {**os.environ, "MEANFIELD_RESNET_CACHE_DIR": cache, "NUMBA_CACHE_DIR": cache}
                t0 = time.perf_counter()
                _snakemake(work, env)
                out[f"{label}_s"] = time.perf_counter() - t0
                out[f"{label}_where"] = where_time_goes(job_times(_newest_log(work)))
    out["compile_share_s"] = out["cold_cache_s"] - out["warm_cache_s"]
    out["job_floor"] = job_floor(out["warm_cache_where"]["rules"])
    return out


#: What a job does before its work: the imports of a compute job's script and its first
#: cached kernel (numba's target set-up), and the imports of a figure job's script
FLOOR_CODE = {
    "compute": "from meanfield_resnet import io, jobs, pipeline, _jit\n"
    "with _jit.subnormals_flushed(): pass",
    "figure": "from meanfield_resnet import figures, io, jobs, plotting",
}
#: The rules whose jobs import the figure stack
FIGURE_RULES = ("figure", "study_figure", "training_figure", "training_regression_figure")


def job_floor(rules, repeats=3):
    """Seconds of a job's process before any work (median of ``repeats`` processes, warm
    kernel cache), and what they add up to over the jobs of ``rules`` (the warm run's
    rows) on 2 cores: the wall time no pipeline of that many processes can go below."""
    out = {}
    for kind, code in FLOOR_CODE.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[f"{kind}_s"] = sorted(times)[len(times) // 2]
    jobs = {name: row["jobs"] for name, row in rules.items() if name != "all"}
    figures = sum(n for name, n in jobs.items() if name in FIGURE_RULES)
    out["jobs"] = sum(jobs.values())
    out["pipeline_floor_s"] = (
        figures * out["figure_s"] + (out["jobs"] - figures) * out["compute_s"]
    ) / 2
    return out


def dry_run():
    """The command of `pipeline` with ``-n``: checks the workflow, the configuration and the
    command without running a job (the smoke run)."""
    with tempfile.TemporaryDirectory() as work:
        _project(work)
        t0 = time.perf_counter()
        _snakemake(work, dict(os.environ), "-n")
        return {"dry_run_s": time.perf_counter() - t0}


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json (``full`` changes nothing here);
    ``smoke``: a dry run, recorded as ``pipeline_dry_run``, and one process of each kind
    of :func:`job_floor` (``pipeline_job_floor``)."""
    if smoke:
        r = {"pipeline_dry_run": dry_run(), "pipeline_job_floor": job_floor({}, repeats=1)}
        log(r)
        return r
    r = {"pipeline": pipeline()}
    log(r["pipeline"])
    return r


def main(argv=None):
    return subject_main("pipeline", __doc__, run, argv)


if __name__ == "__main__":
    main()
