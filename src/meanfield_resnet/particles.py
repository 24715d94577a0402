"""The network stage: the data pushed through the (stochastic) ResNet, as a dataset of the
states at the recorded layers (results/particles/<experiment>.nc), and Table 1, the
network as a classifier."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import io, network
from .activations import activation_code, sigma_slope_bound
from .cost import check_cost, network_seconds
from .experiment import diffusion_and_bias, initial_law
from .settings import Config, Experiment


def particles_dataset(
    config: Config, exp: Experiment, data: dict[str, xr.Dataset], log=None
) -> xr.Dataset:
    """Push the data through the (stochastic) ResNet; states at the output times or layers."""
    spec = exp.particles
    seeds = exp.seed_sequence(config.seed, "particles")
    rng = np.random.default_rng(seeds)
    law = initial_law(exp, data)
    if spec["count"] == "data":
        if law.kind != "samples":
            raise ValueError(f"experiment {exp.name}: particles.count 'data' needs samples")
        x0 = law.samples.copy()
    else:
        x0 = law.sample(rng, spec["count"])
    layers = spec["layers"]
    dt = exp.final_time / layers
    if spec["record_every_layer"]:
        record = np.arange(layers + 1)
    else:
        record = np.round(exp.output_times / dt).astype(int)
    k, segments = diffusion_and_bias(exp, data)
    check_cost(config, exp, "the network", network_seconds(exp, x0.shape[0]),
               f"{x0.shape[0]} particles x {layers} layers",
               "particles.count or particles.layers", log)  # fmt: skip
    _warn_unstable_layers(exp, segments, dt, log)
    states = network.simulate(
        x0,
        exp.activation,
        segments,
        exp.final_time,
        layers,
        record,
        feedback=exp.feedback,
        diffusion=k,
        rng=rng,
        log=log,
    )
    ds = xr.Dataset(
        {"state": (("time", "particle", "axis"), states)},
        coords={"time": record * dt, "axis": np.arange(exp.dimension)},
    )
    growth = float(np.abs(states[-1]).max()) / max(float(np.abs(x0).max()), 1e-300)
    if growth > 1e6 and log is not None:
        log(f"warning: experiment {exp.name}: the data grew by a factor {growth:.3g} through "
            "the network (the layers amplify; check weight, bias and final_time)")  # fmt: skip
    kind = "stochastic ResNet (Euler-Maruyama)" if k is not None else "ResNet (explicit Euler)"
    return io.provenance(
        io.with_unit(ds, exp.unit, exp.dimension),
        f"{kind}: experiment {exp.name}",
        exp.raw,
        config.seed,
        experiment=exp.name,
        layer_step=dt,
        layers=layers,
    )


def _warn_unstable_layers(exp, segments, dt, log) -> None:
    """The explicit Euler layers amplify where dt ‖W‖ sup|σ'| > 2 (|1 + dt λ| > 1 for a
    contracting λ): the network's states then oscillate and grow where the neural ODE's
    decay. That is the network's real behaviour; say so."""
    slope = sigma_slope_bound(activation_code(exp.activation))
    worst = max(dt * float(np.abs(s.weight).sum(axis=1).max()) * slope for s in segments)
    if worst > 2.0 and log is not None:
        log(f"warning: experiment {exp.name}: dt ||W|| sup|σ'| = {worst:.3g} > 2, the explicit "
            "Euler layers are unstable: the network diverges where the mean-field ODE "
            "contracts (more particles.layers make it stable)")  # fmt: skip


def classification_table(
    exp: Experiment, vehicles: xr.Dataset, particles: xr.Dataset
) -> tuple[str, str, float]:
    """Table 1: example lengths, class, the network's output and class (the side of the
    threshold the datum ends on), and the accuracy on all vehicles of the particle run.
    Returns (csv, markdown, accuracy)."""
    import pandas as pd

    threshold = vehicles.attrs["threshold"]
    final = particles["state"].isel(time=-1, axis=0).values
    accuracy = float(((final > threshold).astype(int) == vehicles["is_truck"].values).mean())
    layers = int(particles.attrs["layers"])
    examples = vehicles["example_length"].values
    out = network.simulate(
        examples[:, None],
        exp.activation,
        exp.segments,
        exp.final_time,
        layers,
        np.array([layers]),
        feedback=exp.feedback,
    )[-1, :, 0]
    table = pd.DataFrame(
        {
            "length_m": examples,
            "class": np.where(vehicles["example_is_truck"].values == 1, "truck", "car"),
            "network_output": out,
            "predicted_class": np.where(out > threshold, "truck", "car"),
        }
    )
    footer = f"Accuracy of the network on all {final.size} vehicles: {accuracy:.3f}"
    md = table.to_markdown(index=False, floatfmt=".4g") + f"\n\n{footer}\n"
    return table.to_csv(index=False, float_format="%.6g"), md, accuracy
