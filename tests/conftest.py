import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


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
