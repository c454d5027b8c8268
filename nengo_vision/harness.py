"""Run the same test digits through several backends and collect the results."""

import time

import nengo
import numpy as np

from .backends import get_backend
from .conversion import readout


def accuracy(traces, labels, synapse, dt=0.001):
    """Accuracy of the filtered output at the last step."""
    filtered = readout(traces, synapse, dt=dt)
    return float(np.mean(filtered[:, -1].argmax(-1) == labels))


def predictions(traces, synapse, dt=0.001):
    """Class chosen at the last step of the filtered output, per digit."""
    return readout(traces, synapse, dt=dt)[:, -1].argmax(-1)


def run_backends(ctx, names, images, labels, output_synapse):
    """Run ``images`` through each backend in ``names``.

    Returns
    -------
    runs : dict
        Backend name → :class:`.BackendRun`.
    summary : dict
        Backend name → ``{"accuracy", "n_test", "seconds", "firing_rates", ...}``.
    """
    backends = [get_backend(n) for n in names]
    for backend in backends:
        backend.check()  # fail before any slow work
    runs, summary = {}, {}
    for backend in backends:
        ctx.log(f"running {backend.name} on {len(images)} digits ({backend.description})")
        start = time.perf_counter()
        run = backend.run(ctx, images)
        run.seconds = time.perf_counter() - start
        runs[backend.name] = run
        summary[backend.name] = dict(
            accuracy=accuracy(run.traces, labels, output_synapse, ctx.dt),
            n_test=len(images),
            seconds=round(run.seconds, 2),
            firing_rates={k: round(v, 3) for k, v in run.firing_rates.items()},
        )
        if run.placement:
            summary[backend.name]["placement"] = run.placement
    return runs, summary


def agreement(runs, output_synapse, dt=0.001):
    """Fraction of digits on which each pair of backends predicts the same class."""
    preds = {name: predictions(run.traces, output_synapse, dt) for name, run in runs.items()}
    return {
        a: {b: float(np.mean(preds[a] == preds[b])) for b in preds} for a in preds
    }


def parse_synapse(tau):
    """A time constant in seconds, or None, → a ``nengo.Lowpass`` (or None)."""
    return None if tau is None else nengo.Lowpass(float(tau))
