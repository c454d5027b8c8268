"""``norse``: the network exported to NIR and run in Norse, a second simulator."""

import numpy as np

from ..errors import BackendError
from .base import Backend, BackendRun, register_backend


@register_backend
class NorseBackend(Backend):
    """The converted network written as a NIR graph (:mod:`..interop.nir_export`)
    and run by Norse (:mod:`..interop.norse_run`), PyTorch's spiking simulator.

    A check of the export, and of what a simulator outside the Nengo stack
    makes of the same network: Norse integrates NIR's equations with Euler
    steps of ``dt``, without a refractory period or a voltage floor, where
    nengo's LIF integrates exactly, holds ``tau_ref`` and stops at 0; the
    harness measures what that changes (traces, spikes, accuracy). Needs the
    ``nir`` extra (torch, nir, Norse).
    """

    name = "norse"
    description = "the network exported to NIR and run in Norse (PyTorch)"
    rank = 2.7

    def check(self):
        from ..interop.norse_run import available

        why = available()
        if why:
            raise BackendError(why)

    def run(self, ctx, inputs):
        import time

        from ..deploy.network import from_keras
        from ..interop.nir_export import network_to_nir
        from ..interop.norse_run import run
        from ..stimulus import as_inputs

        start = time.perf_counter()
        inputs = as_inputs(inputs)
        images, source = inputs.images, inputs.spikes
        network = from_keras(ctx.model)
        # a spike here is worth source.amplitude; in the graph, 1
        graph, _ = network_to_nir(network, dt=ctx.dt, synapse=ctx.synapse,
                                  input_synapse=ctx.input_synapse,
                                  input_scale=1.0 if source is None else source.amplitude)

        def spikes(lo, hi):
            return source.counts(images[lo:hi], inputs.indices[lo:hi], ctx.n_steps, ctx.dt)

        with self.progress(ctx, len(images)) as bar:
            traces, counts = run(graph, images, ctx.n_steps, ctx.dt,
                                 batch_size=ctx.batch_size, threads=ctx.engine_threads,
                                 progress=bar.update, spikes=None if source is None else spikes)
        seconds = len(images) * ctx.n_steps * ctx.dt
        rates = {name: float(c.sum() / (c.size * seconds)) for name, c in counts.items()}
        missing = [l.name for l in network.neuron_layers() if l.name not in counts]
        if missing:  # pragma: no cover - every neuron node is hooked
            raise BackendError(f"norse: no spikes recorded for {', '.join(missing)}")
        return BackendRun(traces=traces.astype(np.float64), firing_rates=rates,
                          spike_counts=counts, seconds=time.perf_counter() - start)
