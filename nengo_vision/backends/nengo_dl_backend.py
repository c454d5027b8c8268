"""``nengo-dl``, ``nengo-dl-rate``, ``nengo-dl-loihi``: the converted network in NengoDL."""

import warnings

import numpy as np

from .._quiet import import_nengo_dl
from .base import Backend, Collector, register_backend


@register_backend
class NengoDLBackend(Backend):
    """The converted spiking network, simulated by NengoDL in minibatches.

    Each layer runs the spiking neuron it was trained for (``nengo.LIF``, or
    ``LoihiLIF`` after ``--neuron loihi``). Every digit starts from the same zero
    state (one minibatch element each).
    """

    name = "nengo-dl"
    description = "converted spiking network (the neuron trained for) in NengoDL"
    rank = 2
    spiking = True
    #: None: each layer's own trained neuron; "loihi": Loihi's discretised LIF
    run_as = None

    def run(self, ctx, inputs):
        from nengo_loihi.neurons import LoihiLIF

        from ..conversion import convert
        from ..stimulus import as_inputs

        inputs = as_inputs(inputs)
        nengo_dl = import_nengo_dl()
        cn = convert(
            ctx.model, spiking=self.spiking, synapse=ctx.synapse, run_as=self.run_as,
            voltage=ctx.record.voltage, input_synapse=ctx.input_synapse,
        )
        batch = min(ctx.batch_size, len(inputs))
        collect = Collector(
            ctx, cn.amplitudes, {n: l.size_out for n, l in cn.layers.items()},
            len(inputs), spiking=self.spiking,
        )
        traces = []
        # NengoDL has no Loihi rate neuron: LoihiLIF computes its staircase rate
        # in training mode, so the rate backend asks for it (nothing is trained)
        rate_mode = not self.spiking and any(
            isinstance(n.ensemble.neuron_type, LoihiLIF) for n in cn.layers.values()
        )
        if rate_mode:
            with cn.net:
                # (the Converter built it inference-only, which forbids that mode)
                nengo_dl.configure_settings(learning_phase=True, inference_only=False)
        with warnings.catch_warnings():
            # this project runs on CPU by design; NengoDL's GPU notice is noise
            warnings.filterwarnings("ignore", "No GPU support detected")
            sim = nengo_dl.Simulator(
                cn.net, dt=ctx.dt, minibatch_size=batch, seed=ctx.seed, progress_bar=False
            )
        with sim, self.progress(ctx, len(inputs)) as bar:
            for start in range(0, len(inputs), batch):
                x = inputs.values(ctx.n_steps, ctx.dt, start, start + batch)
                n = len(x)
                # NengoDL runs whole minibatches: pad the last one, then drop the pad
                x = np.concatenate([x, np.zeros((batch - n,) + x.shape[1:], x.dtype)])
                out = sim.predict_on_batch({cn.input: x})
                traces.append(out[cn.output][:n])
                collect.add(
                    start,
                    {name: out[p][:n] for name, p in cn.layer_probes.items()},
                    out[cn.voltage_probe][:n] if cn.voltage_probe else None,
                )
                bar.update(n)
        return collect.result(np.concatenate(traces))


@register_backend
class NengoDLRateBackend(NengoDLBackend):
    """The converted network with rate neurons: no spikes, no noise.

    ``nengo.LIFRate`` for a LIF-trained model; for a Loihi-trained one, Loihi's
    staircase rate (``LoihiLIF`` in NengoDL's training mode).
    """

    name = "nengo-dl-rate"
    description = "converted network with rate neurons in NengoDL (no spikes)"
    rank = 1
    spiking = False


@register_backend
class NengoDLLoihiBackend(NengoDLBackend):
    """The converted network with Loihi's neuron (``LoihiLIF``) in every layer.

    ``nengo_loihi.neurons.LoihiLIF`` reproduces the chip's whole-step
    inter-spike intervals and rounded time constants, in NengoDL's fast
    minibatched simulation: the reference the emulator is compared against.
    Unlike the emulator it keeps weights in floating point and has no
    host-to-chip delays, so the two differ by the chip's quantisation and timing.
    """

    name = "nengo-dl-loihi"
    description = "converted network with Loihi's discretised LIF (LoihiLIF) in NengoDL"
    rank = 3
    run_as = "loihi"
