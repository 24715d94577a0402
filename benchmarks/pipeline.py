"""The whole pipeline: wall time of ``snakemake --cores 2`` on the default configuration from
a clean results/, with an empty numba cache (every job compiles) and with a filled one.

    python benchmarks/pipeline.py            # two full pipeline runs (minutes); writes
                                             # benchmarks/results/pipeline.json
    python benchmarks/pipeline.py --smoke    # the same command as a dry run (-n), once

(--full measures the same as the quick run; --out DIR writes elsewhere.)
"""

from __future__ import annotations

import os
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
            "--quiet",
            *extra,
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )


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
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                t0 = time.perf_counter()
                _snakemake(work, env)
                out[f"{label}_s"] = time.perf_counter() - t0
    out["compile_share_s"] = out["cold_cache_s"] - out["warm_cache_s"]
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
    ``smoke``: a dry run, recorded as ``pipeline_dry_run``."""
    if smoke:
        r = {"pipeline_dry_run": dry_run()}
        log(r["pipeline_dry_run"])
        return r
    r = {"pipeline": pipeline()}
    log(r["pipeline"])
    return r


def main(argv=None):
    return subject_main("pipeline", __doc__, run, argv)


if __name__ == "__main__":
    main()
