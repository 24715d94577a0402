import copy
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# numba's on-disk cache (the package's kernels are compiled with cache=True) goes beside
# the sources, into src/meanfield_resnet/__pycache__, unless NUMBA_CACHE_DIR names a
# directory (or the package picks one itself). The test session, and the workflows and jobs
# it starts (subprocesses inherit the environment), use $XDG_CACHE_HOME/meanfield_resnet/
# numba (~/.cache/...), the package's own default: nothing the tests run writes into src/,
# and the tests share the compiled kernels of your runs (a cold cache costs every kernel's
# compile again). Set here, before the tests import numba or the package; a NUMBA_CACHE_DIR
# of your own is kept. (Python's bytecode is left where Python puts it: redirecting it with
# PYTHONPYCACHEPREFIX would recompile every library in every job where bytecode is not
# written, 9 s a process here.)
_XDG_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
os.environ.setdefault("NUMBA_CACHE_DIR", str(_XDG_CACHE / "meanfield_resnet" / "numba"))
if "numba" in sys.modules:  # imported before this file (a plugin): re-read the environment
    from numba.core import config as _numba_config

    _numba_config.reload_config()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402


@pytest.fixture(scope="session")
def test_config_dict():
    """The tiny .test configuration as a mapping."""
    return yaml.safe_load((ROOT / ".test/config/config.yaml").read_text())


@pytest.fixture
def config_dict(test_config_dict):
    return copy.deepcopy(test_config_dict)


def observed_orders(hs, errors):
    """Observed orders log(e_k/e_{k+1}) / log(h_k/h_{k+1})."""
    hs, errors = np.asarray(hs, float), np.asarray(errors, float)
    return np.log(errors[:-1] / errors[1:]) / np.log(hs[:-1] / hs[1:])
