"""``nengo-dl`` and ``nengo-dl-rate``: the converted network in NengoDL."""

import warnings

import numpy as np

from .._quiet import import_nengo_dl
from ..conversion import convert, tile_images
from .base import Backend, BackendRun, register_backend, spike_rate_hz

nengo_dl = import_nengo_dl()


@register_backend
class NengoDLBackend(Backend):
    """The converted spiking LIF network, simulated by NengoDL in minibatches.

    Every digit starts from the same zero state (one minibatch element each).
    """

    name = "nengo-dl"
    description = "converted spiking LIF network in NengoDL"
    rank = 2
    spiking = True

    def run(self, ctx, images):
        cn = convert(ctx.model, ctx.activation, spiking=self.spiking, synapse=ctx.synapse)
        batch = min(ctx.batch_size, len(images))
        sums = dict.fromkeys(cn.layer_probes, 0.0)
        traces = []
        with warnings.catch_warnings():
            # this project runs on CPU by design; NengoDL's GPU notice is noise
            warnings.filterwarnings("ignore", "No GPU support detected")
            sim = nengo_dl.Simulator(
                cn.net, dt=ctx.dt, minibatch_size=batch, seed=ctx.seed, progress_bar=False
            )
        with sim, self.progress(ctx, len(images)) as bar:
            for start in range(0, len(images), batch):
                chunk = images[start : start + batch]
                # NengoDL runs whole minibatches: pad the last one, then drop the pad
                pad = batch - len(chunk)
                x = tile_images(np.concatenate([chunk, np.zeros_like(images[:pad])]), ctx.n_steps)
                out = sim.predict_on_batch({cn.input: x})
                traces.append(out[cn.output][: len(chunk)])
                for name, probe in cn.layer_probes.items():
                    sums[name] += float(out[probe][: len(chunk)].sum())
                bar.update(len(chunk))
        amplitude = ctx.activation.amplitude
        rates = {
            name: spike_rate_hz(
                sums[name], len(images) * ctx.n_steps * cn.layers[name].size_out,
                amplitude,
            )
            for name in cn.layer_probes
        }
        return BackendRun(traces=np.concatenate(traces), firing_rates=rates)


@register_backend
class NengoDLRateBackend(NengoDLBackend):
    """The converted network with ``nengo.LIFRate`` neurons: no spikes, no noise."""

    name = "nengo-dl-rate"
    description = "converted network with LIF rate neurons in NengoDL (no spikes)"
    rank = 1
    spiking = False
