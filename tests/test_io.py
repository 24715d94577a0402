"""The on-disk schema: round trips, descriptions, atomic writes."""

import numpy as np
import pytest
import xarray as xr

from meanfield_resnet import io, pipeline
from meanfield_resnet.settings import validate_config


def test_round_trip_is_identical_with_attributes(tmp_path, config_dict):
    settings = validate_config(config_dict)
    data = {
        "vehicles": pipeline.vehicles_dataset(settings),
        "regression": pipeline.regression_dataset(settings),
    }
    exp = settings.experiments["fig4_tanh"]
    for ds in (
        data["vehicles"],
        pipeline.pde_dataset(settings, exp, data),
        pipeline.particles_dataset(settings, exp, data),
    ):
        path = tmp_path / "x.nc"
        io.write(ds, path)
        back = io.read(path)
        xr.testing.assert_identical(back, ds)
        for name in back.variables:
            assert {"units", "long_name"} <= set(back[name].attrs), name
        assert back.attrs["references"] == "doi:10.3934/fods.2022007"
        assert list(tmp_path.glob("*.part")) == []


def test_nan_is_refused_and_nothing_is_written(tmp_path):
    ds = xr.Dataset({"density": ("cell", np.array([1.0, np.nan]))})
    with pytest.raises(FloatingPointError, match="NaN"):
        io.write(ds, tmp_path / "bad.nc")
    assert list(tmp_path.iterdir()) == []


def test_undescribed_variable_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="no entry"):
        io.write(xr.Dataset({"mystery": ("cell", np.ones(2))}), tmp_path / "m.nc")


def test_same_config_and_seed_give_identical_data(config_dict):
    settings = validate_config(config_dict)
    a = pipeline.regression_dataset(settings)
    b = pipeline.regression_dataset(validate_config(config_dict))
    xr.testing.assert_identical(a, b)


def test_positions_carry_the_data_unit_and_densities_its_inverse(config_dict):
    config_dict["experiments"]["fig4_tanh"]["unit"] = "m"
    settings = validate_config(config_dict)
    data = {"vehicles": pipeline.vehicles_dataset(settings)}
    exp = settings.experiments["fig4_tanh"]
    pde = pipeline.pde_dataset(settings, exp, data)
    assert pde["x"].attrs["units"] == "m" and pde["dx"].attrs["units"] == "m"
    assert pde["density"].attrs["units"] == "m-1"
    moments = pipeline.moments_dataset(settings, exp, data, None, pde)
    assert moments["mean"].attrs["units"] == "m" and moments["variance"].attrs["units"] == "m2"
