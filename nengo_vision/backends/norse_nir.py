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

    def check_inputs(self, spikes):
        if spikes:
            raise BackendError(
                "the norse backend runs images held at every step; this run sends spikes "
                "(events or a spike encoding): leave norse out of --backends")

    def run(self, ctx, inputs):
        import time

        from ..deploy.network import from_keras
        from ..interop.nir_export import network_to_nir
        from ..interop.norse_run import run
        from ..stimulus import as_inputs

        start = time.perf_counter()
        images = as_inputs(inputs).images
        network = from_keras(ctx.model)
        graph, _ = network_to_nir(network, dt=ctx.dt, synapse=ctx.synapse,
                                  input_synapse=ctx.input_synapse)
        with self.progress(ctx, len(images)) as bar:
            traces, counts = run(graph, images, ctx.n_steps, ctx.dt,
                                 batch_size=ctx.batch_size, threads=ctx.engine_threads,
                                 progress=bar.update)
        seconds = len(images) * ctx.n_steps * ctx.dt
        rates = {name: float(c.sum() / (c.size * seconds)) for name, c in counts.items()}
        missing = [l.name for l in network.neuron_layers() if l.name not in counts]
        if missing:  # pragma: no cover - every neuron node is hooked
            raise BackendError(f"norse: no spikes recorded for {', '.join(missing)}")
        return BackendRun(traces=traces.astype(np.float64), firing_rates=rates,
                          spike_counts=counts, seconds=time.perf_counter() - start)
