"""``nengo``: the converted spiking network in Nengo's reference simulator."""

import nengo
import numpy as np

from ..conversion import convert
from .base import Backend, Collector, register_backend


@register_backend
class NengoBackend(Backend):
    """The converted spiking network, one digit at a time, in ``nengo.Simulator``.

    Nengo's own reference implementation of the same network NengoDL runs (in
    float64, step by step in numpy): the yardstick for NengoDL and for the host
    part of the emulator, which is this simulator too. The simulator is reset to
    its initial state between digits, so every digit starts from rest.
    """

    name = "nengo"
    description = "converted spiking network in Nengo's reference simulator"
    rank = 2.5

    def run(self, ctx, images):
        cn = convert(ctx.model, spiking=True, synapse=ctx.synapse, voltage=ctx.record.voltage)
        # the input node reads the current digit from a holder the loop sets
        holder = [np.zeros(cn.input.size_out)]
        cn.input.output = lambda t: holder[0]
        collect = Collector(
            ctx, cn.amplitudes, {n: l.size_out for n, l in cn.layers.items()}, len(images)
        )
        traces = np.zeros((len(images), ctx.n_steps, cn.output.size_in))
        sim = nengo.Simulator(cn.net, dt=ctx.dt, seed=ctx.seed, progress_bar=False)
        with sim, self.progress(ctx, len(images)) as bar:
            for i, image in enumerate(images):
                holder[0] = image.ravel()
                sim.run_steps(ctx.n_steps)
                traces[i] = sim.data[cn.output]
                collect.add(
                    i,
                    {name: sim.data[p][None] for name, p in cn.layer_probes.items()},
                    sim.data[cn.voltage_probe][None] if cn.voltage_probe else None,
                )
                # back to the initial state (and clear the probes) for the next digit
                sim.reset()
                bar.update(1)
        return collect.result(traces)
