"""The benchmark scripts (benchmarks/): every subject module imports, and its smoke path (its
smallest case once, without the optional peers py-pde and fplanck) runs and writes its
results into a temporary folder, not into benchmarks/results/."""

import importlib
import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
SUBJECTS = (
    "memory", "vlasov_1d", "vlasov_2d", "frames", "fokker_planck", "particles", "gradients",
    "threads", "pipeline",
)  # fmt: skip
SHARED = ("common", "report", "run")  # no measurement of their own


@pytest.fixture(scope="module")
def bench():
    """Import a module of benchmarks/ as its scripts do (the folder first on sys.path); the
    folder and its modules (generic names: common, memory, pipeline) are removed again
    after this file's tests."""
    sys.path.insert(0, str(BENCHMARKS))
    before = set(sys.modules)

    def load(name):
        module = importlib.import_module(name)
        assert Path(module.__file__).parent == BENCHMARKS, module.__file__
        return module

    try:
        yield load
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in set(sys.modules) - before:
            path = getattr(sys.modules[name], "__file__", None)
            if path and Path(path).parent == BENCHMARKS:
                del sys.modules[name]


def test_benchmark_suite_runs_every_subject(bench):
    """run.py runs every subject script of the folder, in the order of SUBJECTS."""
    scripts = {path.stem for path in BENCHMARKS.glob("*.py")} - set(SHARED)
    assert scripts == set(SUBJECTS)
    assert [module.__name__ for module in bench("run").SUBJECTS] == list(SUBJECTS)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_benchmark_smoke(bench, subject, tmp_path):
    module = bench(subject)
    results = module.main(["--smoke", "--out", str(tmp_path)])
    written = json.loads((tmp_path / f"{subject}.json").read_text())
    assert [path.name for path in tmp_path.iterdir()] == [f"{subject}.json"]
    assert written.keys() == results.keys()
    assert {"machine", "summary"} < written.keys()
    rows = {key: value for key, value in written.items() if key not in ("machine", "summary")}
    assert rows and all(rows.values())
    for key in ("vlasov_1d_pypde", "vlasov_2d_pypde", "fokker_planck_pypde", "frames_pypde"):
        assert key not in written  # the peers are skipped
