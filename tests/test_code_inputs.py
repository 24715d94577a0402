"""The package files a workflow script runs, derived from its imports."""

from pathlib import Path

import pytest

from meanfield_resnet.code_inputs import PACKAGE_DIR, package_files

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow/scripts"


def names(script, package_dir=PACKAGE_DIR):
    files = package_files(script, package_dir)
    assert files == sorted(files)
    return {f.relative_to(Path(package_dir).resolve()).as_posix() for f in files}


def test_pde_script_runs_the_kernels_it_imports_through_other_modules():
    found = names(SCRIPTS / "pde.py")
    # pipeline -> vlasov -> finite_volume -> activations -> _jit
    assert {"pipeline.py", "vlasov.py", "finite_volume.py", "activations.py", "_jit.py"} <= found
    # io imports PAPER_DOI from the package; jobs validates with the shipped schema
    assert {"__init__.py", "io.py", "jobs.py", "settings.py"} <= found
    assert "schemas/config.schema.yaml" in found
    assert not {"plotting.py", "figures.py", "studies.py", "code_inputs.py"} & found


def test_figure_scripts_import_plotting_and_study_scripts_import_studies():
    assert {"figures.py", "plotting.py", "ledger.py"} <= names(SCRIPTS / "figure.py")
    assert "finite_volume.py" not in names(SCRIPTS / "figure.py")
    assert "finite_volume.py" not in names(SCRIPTS / "particles.py")
    study_figure = names(SCRIPTS / "study_figure.py")
    assert "plotting.py" in study_figure and "finite_volume.py" not in study_figure
    for script in ("study.py", "sweep_point.py", "sweep_summary.py", "convergence_table.py"):
        assert {"studies.py", "finite_volume.py"} <= names(SCRIPTS / script), script


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_every_script_runs_package_files_that_exist(script):
    files = package_files(SCRIPTS / script)
    assert files and all(f.is_file() and f.is_relative_to(PACKAGE_DIR) for f in files)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.fixture
def package(tmp_path):
    """A package `pkg` exercising every import form, next to scripts that import it."""
    write(
        tmp_path / "pkg",
        {
            "__init__.py": "VERSION = 1\n",
            "a.py": "from . import b, c\nfrom .d import f\n",
            "b.py": "import numpy as np\nfrom .a import x  # a cycle\n",
            "c.py": "def load():\n    from .sub.e import g  # inside a function\n",
            "d.py": "from pkg import VERSION\n\ndef f():\n    pass\n",
            "sub/__init__.py": "",
            "sub/e.py": "from .. import h\nfrom ..data import NAME\n",
            "h.py": "",
            "data.py": 'NAME = "tables/t.csv"\nOTHER = "missing.csv"\n',
            "tables/t.csv": "x\n",
            "unused.py": "",
        },
    )
    write(
        tmp_path,
        {
            "plain.py": "import pkg.h\n",
            "from_package.py": "from pkg import a, VERSION\n",
            "from_module.py": "from pkg.d import f\n",
            "relative.py": "from . import a\nimport os\n",
            "other.py": "import json\n",
        },
    )
    return tmp_path


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("plain.py", {"__init__.py", "h.py"}),
        ("from_module.py", {"__init__.py", "d.py"}),
        (
            "from_package.py",
            {
                "__init__.py",
                *("a.py", "b.py", "c.py", "d.py", "h.py", "data.py"),
                *("sub/__init__.py", "sub/e.py", "tables/t.csv"),
            },
        ),
        ("relative.py", set()),  # a script's relative import is not the package's
        ("other.py", set()),
    ],
)
def test_import_forms(package, script, expected):
    assert names(package / script, package / "pkg") == expected
