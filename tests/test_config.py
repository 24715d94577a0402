"""Malformed configurations are rejected before any job, with the key path in the message."""

import pytest

from meanfield_resnet.settings import ConfigError, overlay_config, validate_config


def set_key(cfg, path, value):
    *head, last = path.split(".")
    node = cfg
    for key in head:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


DELETE = object()
E = "experiments.fig4_tanh"
CASES = [
    # (key path, bad value, text the message must contain)
    ("seed", "abc", "seed"),
    ("seed", -1, "seed"),
    ("data.vehicles.count", 0, "data.vehicles.count"),
    ("data.vehicles.colour", "red", "colour"),
    ("data.vehicles.length_max", 1.0, "data.vehicles.length_max"),
    ("data.regression.noise_std", -1.0, "data.regression.noise_std"),
    ("data.regression.position_min", 0.0, "data.regression.position_min"),
    (f"{E}.activation", "swish", f"{E}.activation"),
    (f"{E}.dimension", 3, f"{E}.dimension"),
    (f"{E}.model", "boltzmann", f"{E}.model"),
    (f"{E}.weight", "one", f"{E}.weight"),
    (f"{E}.weight", [[1, 0], [0, 1]], f"{E}.weight"),
    (f"{E}.bias", {"feedbak": -1}, f"{E}.bias"),
    (f"{E}.final_time", 0, f"{E}.final_time"),
    (f"{E}.final_time", -5.0, f"{E}.final_time"),
    (f"{E}.output_times", [0.0, 7.0], f"{E}.output_times"),
    (f"{E}.output_times", [2.0, 1.0], f"{E}.output_times"),
    (f"{E}.output_times", [], f"{E}.output_times"),
    (f"{E}.output_times", [0.0, 0.123], f"{E}.output_times"),
    (f"{E}.particles.count", 0, f"{E}.particles.count"),
    (f"{E}.particles.layers", 1.5, f"{E}.particles.layers"),
    (f"{E}.pde.cfl", 1.5, f"{E}.pde.cfl"),
    (f"{E}.pde.cells", 4, f"{E}.pde.cells"),
    (f"{E}.pde.cells", [32, 32], f"{E}.pde.cells"),
    (f"{E}.pde.frame", "lagrangian", f"{E}.pde.frame"),
    (f"{E}.pde.domain", [[3.0, 1.0]], f"{E}.pde.domain"),
    (f"{E}.pde.tolerance", 1, "tolerance"),
    (f"{E}.initial.kind", "cauchy", f"{E}.initial.kind"),
    (f"{E}.initial.low", 9.0, f"{E}.initial.high"),
    (f"{E}.initial", {"kind": "gaussian", "mean": 0.0, "std": -1.0}, f"{E}.initial.std"),
    (f"{E}.initial", {"kind": "samples", "source": "weather.rain"}, f"{E}.initial.source"),
    (f"{E}.initial", {"kind": "samples"}, f"{E}.initial"),
    (
        f"{E}.initial",
        {"kind": "samples", "source": "regression.slope_intercept"},
        f"{E}.initial.source",
    ),
    (f"{E}.diffusion", {"kind": "constant", "value": -1.0}, f"{E}.diffusion.value"),
    (f"{E}.bias", "from_target", f"{E}.bias"),
    (f"{E}.lr", 0.1, "lr"),
    ("experiments.fig9_fokker_planck.diffusion", DELETE, "fig9_fokker_planck.diffusion"),
    ("experiments", {}, "experiments"),
    ("experiments.bad-name", None, "bad-name"),
    # beyond the schema: non-finite numbers, seeds, integers, K >= 0, sizes
    (f"{E}.pde.cfl", float("nan"), f"{E}.pde.cfl"),
    (f"{E}.final_time", float("inf"), f"{E}.final_time"),
    ("seed", 2**63, "seed"),
    ("seed", 2.0e64, "seed"),
    (f"{E}.particles.count", 1.0e5, f"{E}.particles.count"),
    (
        f"{E}.diffusion",
        {"kind": "polynomial", "coefficients": [1.0, -1.0]},
        f"{E}.diffusion.coefficients",
    ),
    ("studies.meanfield.particles", [100, 1000, 10**12], "studies.meanfield.particles.2"),
    ("data.regression.repeats", 10**8, "data.regression.positions' x 'data.regression.repeats"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), CASES, ids=[c[0] + "=" + repr(c[1])[:20] for c in CASES]
)
def test_malformed_config_names_the_key(config_dict, path, value, expected):
    with pytest.raises(ConfigError) as err:
        validate_config(set_key(config_dict, path, value))
    print(err.value)
    assert expected in str(err.value)


def test_valid_test_config_passes(config_dict):
    settings = validate_config(config_dict)
    assert settings.experiments["fig4_tanh"].pde["cfl"] == 0.8  # default filled


def test_missing_key_is_named(config_dict):
    del config_dict["experiments"]["fig4_tanh"]["final_time"]
    with pytest.raises(ConfigError, match="final_time"):
        validate_config(config_dict)


def test_overlay_replaces_a_mapping_of_another_kind_and_updates_one_of_the_same():
    """As --configfile over config.yaml: a law of another kind replaces the default's law
    whole (no uniform low/high left under a Gaussian), the same kind or no kind updates
    the keys given, lists and numbers replace; the arguments stay as they were."""
    base = {"a": {"initial": {"kind": "uniform", "low": 2.0, "high": 8.0}, "weight": 1.0,
                  "diffusion": {"kind": "fit_target",
                                "target": {"kind": "uniform", "low": 3.0, "high": 6.0}},
                  "output_times": [0.0, 1.0], "pde": {"cells": 400, "cfl": 0.5}}}  # fmt: skip
    before = repr(base)
    gaussian = {"kind": "gaussian", "mean": 3.0, "std": 0.7}
    overlay = {"a": {"initial": dict(gaussian), "weight": [[1.0]], "output_times": [0.0],
                     "diffusion": {"target": {"kind": "gaussian", "mean": 5.0, "std": 1.0}},
                     "pde": {"cells": 200}},
               "b": {"initial": {"kind": "uniform", "low": 0.0, "high": 1.0}}}  # fmt: skip
    out = overlay_config(base, overlay)
    assert out["a"]["initial"] == gaussian
    assert out["a"]["weight"] == [[1.0]] and out["a"]["output_times"] == [0.0]
    assert out["a"]["diffusion"] == {
        "kind": "fit_target", "target": {"kind": "gaussian", "mean": 5.0, "std": 1.0}
    }  # fmt: skip
    assert out["a"]["pde"] == {"cells": 200, "cfl": 0.5}
    assert out["b"] == overlay["b"]
    same_kind = overlay_config(base, {"a": {"initial": {"kind": "uniform", "high": 9.0}}})
    assert same_kind["a"]["initial"] == {"kind": "uniform", "low": 2.0, "high": 9.0}
    assert repr(base) == before and overlay["a"]["initial"] == gaussian
