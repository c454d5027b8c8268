"""``nengo``: the converted spiking network in Nengo's reference simulator."""

import nengo
import numpy as np

from ..conversion import convert
from .base import Backend, Collector, register_backend


@register_backend
class NengoBackend(Backend):
    """The converted spiking network in ``nengo.Simulator``, many digits at once.

    Nengo's own reference implementation of the same network NengoDL runs (in
    float64, step by step in numpy): the yardstick for NengoDL and for the host
    part of the emulator, which is this simulator too. nengo builds the
    simulator; the batched engine's host (:mod:`..engine.host`) runs its
    operators for ``ctx.emulator_batch`` digits at a time, each from rest, with
    nengo's values to the last bit (a test checks it against ``nengo.Simulator``
    run digit by digit).
    """

    name = "nengo"
    description = "converted spiking network in Nengo's reference simulator (batched)"
    rank = 2.5

    def run(self, ctx, images):
        from ..engine import BatchedEmulator

        cn = convert(ctx.model, spiking=True, synapse=ctx.synapse, voltage=ctx.record.voltage)
        # a function for the engine to replace with the digits (a constant
        # output would be built into the simulator as a fixed signal)
        cn.input.output = lambda t: np.zeros(cn.input.size_out)
        sizes = {n: l.size_out for n, l in cn.layers.items()}
        collect = Collector(ctx, cn.amplitudes, sizes, len(images))
        layer_of = {p: n for n, p in cn.layer_probes.items()}
        full = [cn.output] + ([cn.voltage_probe] if cn.voltage_probe else [])
        counts = {p: ctx.record.raster.get(n) for n, p in cn.layer_probes.items()}
        traces = np.zeros((len(images), ctx.n_steps, cn.output.size_in))
        sim = nengo.Simulator(cn.net, dt=ctx.dt, seed=ctx.seed, progress_bar=False)
        with sim, self.progress(ctx, len(images)) as bar:
            engine = BatchedEmulator(sim, cn.input, batch_size=min(ctx.emulator_batch, len(images)))
            flat = images.reshape(len(images), -1)
            for batch in engine.run(flat, ctx.n_steps, full=full, counts=counts,
                                    progress=bar.update):
                traces[batch.start : batch.start + batch.size] = batch.data[cn.output]
                collect.add_counts(
                    batch.start,
                    {layer_of[p]: c for p, c in batch.counts.items()},
                    {layer_of[p]: r for p, r in batch.rasters.items()},
                    batch.data.get(cn.voltage_probe),
                )
        return collect.result(traces)
