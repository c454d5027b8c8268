"""``nengo``: the converted spiking network in Nengo's reference simulator."""

import numpy as np

from .base import Backend, register_backend, run_on_engine


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
    engine = True

    def run(self, ctx, inputs):
        import nengo

        from ..conversion import convert
        from ..stimulus import as_inputs

        inputs = as_inputs(inputs)
        cn = convert(ctx.model, spiking=True, synapse=ctx.synapse, voltage=ctx.record.voltage,
                     input_synapse=ctx.input_synapse)
        # a function for the engine to replace with the digits (a constant
        # output would be built into the simulator as a fixed signal)
        cn.input.output = lambda t: np.zeros(cn.input.size_out)
        sim = nengo.Simulator(cn.net, dt=ctx.dt, seed=ctx.seed, progress_bar=False)
        with sim, self.progress(ctx, len(inputs)) as bar:
            collect, traces, _ = run_on_engine(ctx, sim, cn, inputs, bar)
        return collect.result(traces)
