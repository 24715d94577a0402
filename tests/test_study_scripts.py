"""The package functions behind the study scripts (workflow/scripts/study.py and
study_figure.py), called directly on small inputs, without Snakemake."""

import json

import numpy as np
import pytest
from PIL import Image

from meanfield_resnet import datasets, figures, io, pipeline, plotting, studies
from meanfield_resnet.settings import validate_config

EXPERIMENT = "fig4_tanh"


@pytest.fixture(scope="module")
def small(test_config_dict):
    """The .test configuration with a tiny mean-field study, its data sets and the PDE
    solution of one experiment: (settings, data, pde)."""
    raw = json.loads(json.dumps(test_config_dict))
    raw["studies"]["meanfield"] = {
        "experiments": [EXPERIMENT], "particles": [20, 40, 80], "seeds": 2, "layers": 10,
    }  # fmt: skip
    settings = validate_config(raw)
    data = {
        "vehicles": datasets.vehicles_dataset(settings),
        "regression": datasets.regression_dataset(settings),
    }
    pde = pipeline.pde_dataset(settings, settings.experiments[EXPERIMENT], data)
    return settings, data, pde


@pytest.fixture(scope="module")
def meanfield(small):
    settings, data, pde = small
    return studies.study_dataset(settings, "meanfield", EXPERIMENT, data, pde)


def test_meanfield_study_dataset(small, meanfield):
    settings, _, _ = small
    ds = meanfield
    assert ds["w1"].dims == ("particles", "seed") and ds["w1"].shape == (3, 2)
    assert list(ds.particles.values) == [20, 40, 80]
    assert (ds["w1"].values > 0).all() and np.isfinite(ds["w1"].values).all()
    assert ds.attrs["slope_ci_low"] < ds.attrs["slope"] < ds.attrs["slope_ci_high"]
    assert ds.attrs["experiment"] == EXPERIMENT and ds.attrs["layers"] == 10
    # the title and the provenance the script used to add
    title = f"Mean-field limit: W1(particles, PDE) against M, experiment {EXPERIMENT}"
    assert ds.attrs["title"] == title
    assert json.loads(ds.attrs["config"]) == json.loads(json.dumps(settings.studies))
    assert json.loads(ds.attrs["seed"]) == settings.seed
    assert ds.attrs["references"] == "doi:10.3934/fods.2022007"


def test_meanfield_study_is_reproducible_and_needs_its_inputs(small, meanfield):
    settings, data, pde = small
    again, title = studies.meanfield_study(settings, EXPERIMENT, data, pde)
    np.testing.assert_array_equal(again["w1"].values, meanfield["w1"].values)
    assert title == meanfield.attrs["title"]
    with pytest.raises(ValueError, match="needs an experiment, the data and its PDE"):
        studies.study_dataset(settings, "meanfield", EXPERIMENT)


def test_solver_study_dataset(small):
    settings, _, _ = small
    ds = studies.study_dataset(settings, "sensitivities")
    assert ds.attrs["title"] == "Study: sensitivities"
    assert json.loads(ds.attrs["seed"]) == settings.seed
    pde, exact = (ds["sensitivity"].sel(source=s).values for s in ("pde", "exact"))
    np.testing.assert_allclose(pde, exact, atol=1e-4)
    with pytest.raises(ValueError, match="unknown study 'nonsense'"):
        studies.study_dataset(settings, "nonsense")
    assert set(studies.SOLVER_STUDIES) < set(studies.STUDIES)


def test_study_figure_dataset_combines_the_meanfield_files(tmp_path, meanfield):
    other = meanfield.copy(deep=True)
    other["w1"] = other["w1"] * 2
    other.attrs.update(experiment="other", slope=-0.25, intercept=1.5)
    paths = []
    for name, ds in ((EXPERIMENT, meanfield), ("other", other)):
        paths.append(tmp_path / f"{name}.nc")
        io.write(ds, paths[-1])
    combined = figures.study_figure_dataset("meanfield", [str(p) for p in paths])
    assert list(combined.experiment.values) == [EXPERIMENT, "other"]
    for name, ds in ((EXPERIMENT, meanfield), ("other", other)):
        sub = combined.sel(experiment=name)
        np.testing.assert_array_equal(sub["w1"].values, ds["w1"].values)
        for key in figures.FIT_ATTRIBUTES:
            assert float(sub[f"fit_{key}"]) == ds.attrs[key]
    # a file under another experiment's name is refused
    (tmp_path / "renamed.nc").write_bytes(paths[0].read_bytes())
    with pytest.raises(io.InputFileError):
        figures.study_figure_dataset("meanfield", [tmp_path / "renamed.nc"])
    # the other studies: their one file as it is
    single = figures.study_figure_dataset("sensitivities", [paths[0]])
    np.testing.assert_array_equal(single["w1"].values, meanfield["w1"].values)
    with pytest.raises(ValueError, match="expected one file"):
        figures.study_figure_dataset("sensitivities", paths)
    with pytest.raises(ValueError, match="at least one experiment"):
        figures.combine_meanfield({})


def test_study_figure_is_drawn_with_its_caption(tmp_path, meanfield):
    ds = figures.combine_meanfield({EXPERIMENT: meanfield})
    png, pdf = tmp_path / "study.png", tmp_path / "study.pdf"
    caption = "**Study meanfield** (beyond the paper). W1 against M, σ = tanh."
    plotting.save(plotting.study("meanfield", ds), str(png), str(pdf), description=caption)
    assert Image.open(png).info["Description"] == caption
    assert pdf.read_bytes().startswith(b"%PDF") and b"/Subject" in pdf.read_bytes()
    with pytest.raises(ValueError, match="no figure for study 'nonsense'"):
        plotting.study("nonsense", ds)
