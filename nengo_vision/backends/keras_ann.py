"""``keras``: the trained ANN itself, with its LIF rate activations."""

import numpy as np

from .base import Backend, Collector, register_backend


@register_backend
class KerasBackend(Backend):
    """The Keras model, run once per digit (on :attr:`.Inputs.images`: the still
    image, or for events the recording's frame: what the input synapse holds
    at the last step).

    The ANN has no time: its output is the same at every step, so its trace is
    the logits repeated ``n_steps`` times. Firing rates are the rates its LIF
    activations stand for (activation / amplitude).
    """

    name = "keras"
    description = "the trained Keras ANN with LIF rate activations"

    def run(self, ctx, inputs):
        import tensorflow as tf

        from ..conversion import neuron_layers
        from ..stimulus import as_inputs

        # the ANN sees the still images, or the events' frames
        images = as_inputs(inputs).images
        names = neuron_layers(ctx.model)
        layers = [ctx.model.get_layer(n) for n in names]
        probe = tf.keras.Model(ctx.model.input, [ctx.model.output] + [l.output for l in layers])
        collect = Collector(
            ctx, {l.name: l.activation.amplitude for l in layers},
            {l.name: int(np.prod(l.output_shape[1:])) for l in layers},
            len(images), spiking=False,
        )
        logits = []
        with self.progress(ctx, len(images)) as bar:
            for start in range(0, len(images), ctx.batch_size):
                batch = images[start : start + ctx.batch_size]
                outs = probe(batch, training=False)
                logits.append(outs[0].numpy())
                # the same activation at every step: one step standing for n_steps
                collect.add(start, {
                    l.name: o.numpy().reshape(len(batch), 1, -1) * ctx.n_steps
                    for l, o in zip(layers, outs[1:])
                })
                bar.update(len(batch))
        logits = np.concatenate(logits)
        return collect.result(np.repeat(logits[:, None, :], ctx.n_steps, axis=1))
