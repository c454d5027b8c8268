"""``keras``: the trained ANN itself, with its LIF rate activations."""

import numpy as np
import tensorflow as tf

from ..conversion import neuron_layers
from .base import Backend, BackendRun, register_backend


@register_backend
class KerasBackend(Backend):
    """The Keras model, run once per digit.

    The ANN has no time: its output is the same at every step, so its trace is
    the logits repeated ``n_steps`` times. Firing rates are the rates its LIF
    activations stand for (activation / amplitude).
    """

    name = "keras"
    description = "the trained Keras ANN with LIF rate activations"

    def run(self, ctx, images):
        names = neuron_layers(ctx.model)
        amplitudes = [ctx.model.get_layer(n).activation.amplitude for n in names]
        probe = tf.keras.Model(
            ctx.model.input,
            [ctx.model.output] + [ctx.model.get_layer(n).output for n in names],
        )
        logits, sums = [], np.zeros(len(names))
        with self.progress(ctx, len(images)) as bar:
            for start in range(0, len(images), ctx.batch_size):
                batch = images[start : start + ctx.batch_size]
                outs = probe(batch, training=False)
                logits.append(outs[0].numpy())
                sums += [o.numpy().sum() / a for o, a in zip(outs[1:], amplitudes)]
                bar.update(len(batch))
        logits = np.concatenate(logits)
        sizes = [np.prod(ctx.model.get_layer(n).output_shape[1:]) for n in names]
        rates = {n: float(s / (size * len(images))) for n, s, size in zip(names, sums, sizes)}
        traces = np.repeat(logits[:, None, :], ctx.n_steps, axis=1)
        return BackendRun(traces=traces, firing_rates=rates)
