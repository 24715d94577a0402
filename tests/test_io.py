"""The on-disk schema: round trips, descriptions, atomic writes, inputs checked as they
are read, files with the user's umask."""

import logging
import os
import signal
import stat
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from meanfield_resnet import datasets, io, jobs, particles, pipeline
from meanfield_resnet.settings import validate_config


def test_round_trip_is_identical_with_attributes(tmp_path, config_dict):
    settings = validate_config(config_dict)
    data = {
        "vehicles": datasets.vehicles_dataset(settings),
        "regression": datasets.regression_dataset(settings),
    }
    exp = settings.experiments["fig4_tanh"]
    for ds in (
        data["vehicles"],
        pipeline.pde_dataset(settings, exp, data),
        particles.particles_dataset(settings, exp, data),
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
    a = datasets.regression_dataset(settings)
    b = datasets.regression_dataset(validate_config(config_dict))
    xr.testing.assert_identical(a, b)


def test_positions_carry_the_data_unit_and_densities_its_inverse(config_dict):
    config_dict["experiments"]["fig4_tanh"]["unit"] = "m"
    settings = validate_config(config_dict)
    data = {"vehicles": datasets.vehicles_dataset(settings)}
    exp = settings.experiments["fig4_tanh"]
    pde = pipeline.pde_dataset(settings, exp, data)
    assert pde["x"].attrs["units"] == "m" and pde["dx"].attrs["units"] == "m"
    assert pde["density"].attrs["units"] == "m-1"
    moments = pipeline.moments_dataset(settings, exp, data, None, pde)
    assert moments["mean"].attrs["units"] == "m" and moments["variance"].attrs["units"] == "m2"


# --- inputs checked as they are read ---------------------------------------------------


def _small(experiment="fit_uniform") -> xr.Dataset:
    ds = xr.Dataset({"density": ("cell", np.linspace(0.0, 1.0, 4000))})
    return io.provenance(ds, "small", experiment=experiment)


def test_truncated_file_names_itself_and_the_command_that_regenerates_it(tmp_path):
    path = tmp_path / "pde" / "fit_gaussian.nc"
    io.write(_small("fit_gaussian"), path)
    data = path.read_bytes()
    for size in (0, 10, len(data) // 2, len(data) - 50):
        path.write_bytes(data[:size])
        with pytest.raises(io.InputFileError) as info:
            io.read(path, experiment="fit_gaussian")
        message = str(info.value)
        assert str(path) in message and "truncated or corrupt" in message, message
        assert f"rm {path} && snakemake --cores all" in message, message
        assert "Traceback" not in message and info.value.__cause__ is None


def test_a_file_that_is_not_netcdf_or_missing_is_a_clear_error(tmp_path):
    text = tmp_path / "vehicles.nc"
    text.write_text("not netCDF")
    with pytest.raises(io.InputFileError, match="cannot be read as netCDF"):
        io.read(text)
    with pytest.raises(io.InputFileError, match="does not exist"):
        io.read(tmp_path / "missing.nc")


def test_a_file_of_another_experiment_is_refused_naming_both(tmp_path):
    """fit_uniform.nc copied over fit_gaussian.nc: read without complaint before."""
    uniform, gaussian = tmp_path / "fit_uniform.nc", tmp_path / "fit_gaussian.nc"
    io.write(_small("fit_uniform"), uniform)
    io.write(_small("fit_gaussian"), gaussian)
    assert io.read(gaussian, experiment="fit_gaussian").attrs["experiment"] == "fit_gaussian"
    gaussian.write_bytes(uniform.read_bytes())
    with pytest.raises(io.InputFileError) as info:
        io.read(gaussian, experiment="fit_gaussian")
    message = str(info.value)
    assert "'fit_uniform'" in message and "'fit_gaussian'" in message, message
    assert str(gaussian) in message and "snakemake" in message, message
    assert io.read(gaussian).attrs["experiment"] == "fit_uniform"  # unchecked read: as before


def test_a_file_without_experiment_is_refused_when_one_is_expected(tmp_path):
    path = tmp_path / "x.nc"
    io.write(xr.Dataset({"density": ("cell", np.ones(3))}), path)
    with pytest.raises(io.InputFileError, match="no experiment attribute.*'fig4_tanh'"):
        io.read(path, experiment="fig4_tanh")


def test_load_data_checks_its_files(tmp_path):
    path = tmp_path / "vehicles.nc"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(io.InputFileError, match="vehicles.nc"):
        jobs.load_data([path])


# --- no temporary file outlives its writer; files get the umask -------------------------


def _failing_write(monkeypatch, error):
    """Make to_netcdf write part of the file, then fail with ``error``."""

    def to_netcdf(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n partial")
        if isinstance(error, int):
            os.kill(os.getpid(), error)
            for _ in range(1000):  # the Python-level handler runs between bytecodes
                pass
        raise error

    monkeypatch.setattr(xr.Dataset, "to_netcdf", to_netcdf)


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_no_part_file_after_a_failed_or_interrupted_write(tmp_path, monkeypatch, error):
    path = tmp_path / "pde" / "x.nc"
    io.write(_small(), path)
    before = path.read_bytes()
    _failing_write(monkeypatch, error)
    with pytest.raises(type(error)):
        io.write(_small(), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.nc"]
    assert path.read_bytes() == before  # the previous complete file is untouched


def test_no_part_file_after_sigterm_in_a_job(tmp_path, monkeypatch):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        jobs.exit_on_sigterm()
        _failing_write(monkeypatch, signal.SIGTERM)
        with pytest.raises(SystemExit) as info:
            io.write(_small(), tmp_path / "x.nc")
        assert info.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """A SIGKILL cannot be caught: the next write of the target cleans up."""
    path = tmp_path / "x.nc"
    stale = [tmp_path / ".x.nc.part", tmp_path / ".x.nc.ab12_xYz.part"]  # now, and mkstemp's
    for part in stale:
        part.write_bytes(b"partial")
        part.chmod(0o600)
    other = tmp_path / ".y.nc.part"  # another target's: not ours to remove
    other.write_bytes(b"partial")
    io.write(_small(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".y.nc.part", "x.nc"]
    io.write_text("a\n", tmp_path / "y.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc", "y.nc"]


def test_job_start_removes_stale_part_files_of_its_outputs(tmp_path, config_dict):
    out = tmp_path / "results" / "pde" / "x.nc"
    out.parent.mkdir(parents=True)
    (out.parent / ".x.nc.part").write_bytes(b"partial")
    smk = SimpleNamespace(
        log=[str(tmp_path / "job.log")], threads=1, output=[str(out)], config=config_dict
    )
    hook, previous = sys.excepthook, signal.getsignal(signal.SIGTERM)
    try:
        jobs.start(smk)
    finally:
        sys.excepthook = hook
        signal.signal(signal.SIGTERM, previous)
        logger = logging.getLogger("meanfield_resnet")
        for handler in logger.handlers:
            handler.close()
        logger.handlers.clear()
    assert list(out.parent.iterdir()) == []
    assert "removed" in (tmp_path / "job.log").read_text()


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_are_written_with_the_umask(tmp_path, umask):
    stale = tmp_path / ".x.nc.part"  # as mkstemp made it, mode 0600: not reused
    stale.write_bytes(b"partial")
    stale.chmod(0o600)
    old = os.umask(umask)
    try:
        io.write(_small(), tmp_path / "x.nc")
        io.write_text("a\n", tmp_path / "x.md")
    finally:
        os.umask(old)
    for name in ("x.nc", "x.md"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o666 & ~umask, (name, oct(mode))
