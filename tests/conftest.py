"""Shared fixtures: real MNIST and one small model trained once per test session
(``trained``), also run with Loihi's neuron (``trained_loihi``, not trained again)."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
#: fixtures that train a model: every test using one is in the slow tier
TRAINING_FIXTURES = {"trained", "trained_loihi"}


def pytest_collection_modifyitems(items):
    for item in items:
        # a fixture used directly, or named by a parameter for request.getfixturevalue
        params = getattr(getattr(item, "callspec", None), "params", {}).values()
        named = {p for p in params if isinstance(p, str)}
        if TRAINING_FIXTURES & (set(getattr(item, "fixturenames", ())) | named):
            item.add_marker(pytest.mark.slow)


def _data_dir():
    # .ci/run sets NENGO_VISION_DATA; a checkout beside shared/ works without it
    folder = os.environ.get("NENGO_VISION_DATA") or REPO.parent / "shared" / "data"
    return Path(folder) if (Path(folder) / "mnist.npz").is_file() else None


@pytest.fixture(scope="session")
def data_dir():
    folder = _data_dir()
    if folder is None:
        pytest.skip("real MNIST not found: set NENGO_VISION_DATA to the folder of mnist.npz")
    return folder


@pytest.fixture(scope="session")
def mnist(data_dir):
    from nengo_vision.datasets.mnist import load_mnist

    return load_mnist(data_dir)


#: Small but real training: 3 epochs on the first 20,000 training digits, with the
#: command line's neuron settings but no shifted digits (they slow short training).
N_TRAIN, EPOCHS = 20000, 3


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _train(mnist, cache_dir, activation):
    from nengo_vision.models import get_model
    from nengo_vision.training import train

    (x_train, y_train), _ = mnist
    model, _ = train(
        get_model("scnn_mnist"), activation, x_train[:N_TRAIN], y_train[:N_TRAIN],
        epochs=EPOCHS, seed=0, cache_dir=cache_dir, augment=0, lr_decay=True,
        log=lambda *a: None,
    )
    return model, activation


@pytest.fixture(scope="session")
def trained(mnist, cache_dir):
    """``(model, activation)`` trained through the LIF rate approximation."""
    from nengo_vision.neurons import LIFActivation

    return _train(mnist, cache_dir, LIFActivation())


@pytest.fixture(scope="session")
def trained_loihi(trained):
    """``(model, activation)``: ``trained``'s weights with Loihi's discretised LIF.

    The Keras model computes Loihi's staircase rate curve in every layer, and
    converts to ``LoihiLIF`` on the host and to the chip's neurons, as a model
    trained with ``--neuron loihi`` does. No test of this fixture is about
    training through that curve (``test_cli.py`` trains so itself): they compare
    simulators of the one network, which any weights do, and ask for accuracy
    that these weights keep (measured: 95.1 % of 2,000 digits in Keras with
    either curve, and the emulator and NengoDL's LoihiLIF 95 % of the first 40,
    agreeing on all 40). So the session trains once, not twice.
    """
    from nengo_vision.models import get_model
    from nengo_vision.neurons import LoihiLIFActivation

    activation = LoihiLIFActivation()
    model = get_model("scnn_mnist").build(activation)
    model.set_weights(trained[0].get_weights())
    return model, activation


@pytest.fixture(scope="session")
def test_digits(mnist):
    _, (x_test, y_test) = mnist
    return x_test, y_test


def context(trained, **kwargs):
    from nengo_vision.backends import RunContext

    model, _ = trained
    kwargs.setdefault("progress", False)
    kwargs.setdefault("log", lambda *a: None)
    return RunContext(model=model, **kwargs)


def last_step_predictions(traces, tau=None):
    """Classes read as the command line reads them (its default readout filter)."""
    import nengo

    from nengo_vision import defaults
    from nengo_vision.harness import predictions

    return predictions(traces, nengo.Lowpass(tau or defaults.OUTPUT_SYNAPSE))
