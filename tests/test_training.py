"""Training the network on the vehicles' classification loss (src/meanfield_resnet/training.py)."""

import numpy as np
import pytest

from conftest import ROOT
from meanfield_resnet import backprop, datasets, losses, settings, training, vlasov
from meanfield_resnet.distributions import Distribution

LAW = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))  # the lengths' law
FINAL, SEGMENTS, MAX_WEIGHT = 10.0, 5, 4.0
SWITCHES = np.linspace(0.0, FINAL, SEGMENTS + 1)[1:-1]
BOUNDS = [(-MAX_WEIGHT, MAX_WEIGHT), (-10 * MAX_WEIGHT, 10 * MAX_WEIGHT)] * SEGMENTS


@pytest.fixture(scope="module")
def vehicles():
    data = datasets.vehicles_dataset(settings.load_config(ROOT / "config/config.yaml"))
    return data["length"].values, data["is_truck"].values


def accuracy(theta, lengths, is_truck, layers=200):
    """Share of the 50 vehicles the network with θ puts on their class's side of 0."""
    loss = losses.Classification()
    out = backprop.gradient(
        lengths,
        "tanh",
        training.segments_from(theta, SWITCHES),
        FINAL,
        layers,
        loss,
        labels=loss.labels(lengths),
    ).outputs
    return loss.accuracy(out, is_truck)


def test_particle_training_on_the_law(vehicles):
    """Backpropagation through 200 layers on the Gauss-Legendre nodes of U[2, 8] (cars and
    trucks separately: the expected loss over the law, no sampling)."""
    loss = losses.Classification()
    xg, wg = np.polynomial.legendre.leggauss(100)
    x = np.concatenate([3.5 + 1.5 * xg, 6.5 + 1.5 * xg])
    w = np.concatenate([wg, wg]) * 1.5 / 6.0
    objective = training.particle_objective(
        x, "tanh", SWITCHES, FINAL, 200, loss, w, loss.labels(x)
    )
    result = training.train(objective, np.zeros(2 * SEGMENTS), BOUNDS)
    print(result.initial_value, result.value, result.evaluations, result.message)
    assert result.initial_value == pytest.approx(26.0, rel=1e-12)  # θ = 0: nothing moves
    assert result.value <= result.initial_value / 100
    assert accuracy(result.theta, *vehicles) == 1.0


def test_mean_field_training_on_the_law(vehicles):
    """The Vlasov model of the two class laws (fixed frame [-9, 19] that no mass can leave
    within T = 10 at speed |tanh| <= 1) and the adjoint gradient; coarse (280 cells, frame
    step 0.2) since training needs the descent, not the last digit."""
    loss = losses.Classification()
    frame = vlasov.Frame(np.array([-9.0]), np.array([19.0]), (280,), False)
    objective = training.mean_field_objective(
        "tanh",
        SWITCHES,
        FINAL,
        frame,
        LAW,
        loss,
        solver={"frame_step": 0.2},
        nodes=4,
        panel=1.0,
    )
    result = training.train(objective, np.zeros(2 * SEGMENTS), BOUNDS)
    print(result.initial_value, result.value, result.evaluations, result.message, result.theta)
    assert result.initial_value == pytest.approx(26.0, rel=1e-12)
    assert result.value <= result.initial_value / 100
    assert accuracy(result.theta, *vehicles) == 1.0


def test_segments_from_theta():
    segs = training.segments_from([1.0, -5.0, 0.5, 0.2], [0.4])
    assert [s.until for s in segs] == [0.4, np.inf]
    assert segs[1].weight[0, 0] == 0.5 and segs[1].bias[0] == 0.2
    with pytest.raises(ValueError, match="switch"):
        training.segments_from([1.0, -5.0, 0.5, 0.2], [])
