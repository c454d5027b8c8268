"""How much memory a run will need, estimated before training, so that a run
that cannot fit stops at once with the numbers instead of dying hours later.

The estimate counts the arrays that grow with the settings (steps, digits,
batch sizes, layer sizes), not the fixed cost of the libraries; it errs on the
high side for the backends' working arrays. It is checked against the memory
the machine has available now.
"""

import numpy as np

from .errors import ConfigError

GIB = 2**30
#: TensorFlow, nengo and the rest, loaded (measured: about 1 GiB resident)
FIXED = 1 * GIB


def _neurons(model):
    from .conversion import neuron_layers

    return sum(int(np.prod(model.get_layer(n).output_shape[1:])) for n in neuron_layers(model))


def estimate(config, model, data):
    """Bytes the run's largest arrays need, and what the largest is.

    Returns
    -------
    total : int
    parts : dict
        What → ``(bytes, settings that shrink it)``, the parts of the total.
    """
    from .backends import get_backend

    n_inputs = int(np.prod(data.dataset.input_shape))
    n_classes = data.dataset.n_classes
    neurons = _neurons(model)
    steps = config.n_steps
    parts = {}
    traces = 0
    for name in config.backends:
        n = config.n_digits(name)
        traces += n * steps * n_classes * 8  # float64 output per step, kept to the end
    fewer_digits = ("n_steps", "n_test", "digits")
    parts["every backend's output traces"] = (traces, fewer_digits)
    # the comparison filters a backend's traces several times over
    largest = max(config.n_digits(n) for n in config.backends)
    parts["filtered copies while comparing"] = (3 * largest * steps * n_classes * 8,
                                                fewer_digits)
    working = {}
    for name in config.backends:
        backend = get_backend(name)
        n = config.n_digits(name)
        if name == "keras":
            working[name] = (min(n, 10000) * (n_inputs + neurons) * 4, "Keras's activations",
                             ("n_test",))
        elif backend.engine:
            batch = min(config.emulator_batch, n)
            # per digit: neuron state (a few int32/float64 arrays) and the output probe
            working[name] = (batch * (neurons * 6 * 8 + steps * n_classes * 8) * 2,
                             f"the engine's state for {batch} digits × {steps:,} steps",
                             ("n_steps", "emulator_batch"))
        else:
            batch = min(config.batch_size, n)
            # NengoDL keeps every layer's output at every step of a minibatch,
            # and the tiled input
            working[name] = (batch * steps * (n_inputs + neurons + n_classes) * 4 * 2,
                             f"NengoDL's probes of every layer for {batch} digits × "
                             f"{steps:,} steps", ("n_steps", "batch_size"))
    size, what, settings = max(working.values(), key=lambda w: w[0])
    parts[what] = (size, settings)
    return FIXED + sum(size for size, _ in parts.values()), parts


def check_memory(config, model, data):
    """ConfigError, with the numbers, if the run cannot fit in the available memory."""
    import psutil

    total, parts = estimate(config, model, data)
    available = psutil.virtual_memory().available
    if total > available:
        biggest = max(parts, key=lambda k: parts[k][0])
        size, settings = parts[biggest]
        lower = [config.label(n) + _value(getattr(config, n)) for n in settings]
        raise ConfigError(
            f"this run needs about {_gib(total)} of memory ({_gib(size)} for {biggest}), "
            f"more than the {_gib(available)} available; lower "
            + (f"{', '.join(lower[:-1])} or {lower[-1]}" if len(lower) > 1 else lower[0])
        )
    return total


def _value(value):
    return f" ({value:,})" if isinstance(value, int) else ""


def _gib(n):
    return f"{n / GIB:,.1f} GiB"
