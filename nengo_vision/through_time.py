"""Fine-tuning through time: the deployed network run step by step as the chip
runs it, trained end to end, so that a few steps suffice.

Rate training (:mod:`.training`) trains the steady state: what the network
computes once its spike rates have settled, which takes tens of steps on the
chip. :class:`ThroughTime` instead runs the network for ``n_steps`` steps the
way the Loihi emulator does, and trains what it reads at the last one:

- each neuron layer is Loihi's discretised LIF neuron, ``nengo_loihi.neurons.
  LoihiLIF``: the voltage decays with the chip's rounded time constant, a
  neuron stays silent for a whole number of steps after a spike, and its
  voltage is reset to zero (Loihi 1 has no reset by subtraction);
- a spike reaches the next layer one step after it is fired, as on the chip,
  through the connections' lowpass synapse; the host reads the output one step
  later again;
- the output is read as the pipeline reads it (the readout filter at the last
  step, or the output summed over the steps), scaled to the units of the
  ANN's logits.

The forward pass is spikes; the backward pass takes each spike's gradient from
the neuron's rate curve at that step's input current (a straight-through
estimator, the "spiking-aware training" of KerasSpiking's ``SpikingActivation``
with Loihi's neuron in place of its integrator). Layers are run one after the
other over all steps (the networks are feedforward), each convolution once on
all steps at once.
"""

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from ._io import locked
from .errors import ConfigError, ModelError
from .neurons import is_neuron_activation

#: fine-tuning's learning rate (Adam, cosine decay to 1 %): the rate-trained
#: weights are a good start, and spikes make the gradient noisy
LR = 1e-3
#: bump when the fine-tuning changes, so that caches are made anew
VERSION = 1

L = tf.keras.layers


def _lowpass(x, tau, dt):
    """nengo's ``Lowpass(tau)`` along the steps of ``(B, T, ...)``:
    ``y[t] = a y[t-1] + (1 - a) x[t]``, from rest."""
    if tau is None:
        return x
    a = float(np.exp(-dt / tau))
    steps, y = [], tf.zeros_like(x[:, 0])
    for t in range(x.shape[1]):
        y = a * y + (1 - a) * x[:, t]
        steps.append(y)
    return tf.stack(steps, axis=1)


def _delayed(x, steps=1):
    """``x`` one step later along ``(B, T, ...)``: zeros first."""
    return tf.concat([tf.zeros_like(x[:, :steps]), x[:, :-steps]], axis=1)


def loihi_lif(pre, activation, n_steps, per_step, dt=0.001):
    """Spikes of ``LoihiLIF`` neurons for input ``pre`` (the layer's
    pre-activation: ``(B, T, ...)`` if ``per_step``, else ``(B, ...)`` held at
    every step), ``(B, T, ...)`` activation values (a spike is
    ``amplitude / dt``), with the rate curve's gradient.

    The forward pass is ``nengo_loihi.neurons.LoihiLIF.step`` (the discretised
    time constants, refractory whole steps, reset to zero; voltages from zero).
    """
    from nengo_loihi.neurons import discretize_tau_rc, discretize_tau_ref

    held = not per_step
    tau_rc = float(discretize_tau_rc(activation.tau_rc, dt))
    tau_ref = float(discretize_tau_ref(activation.tau_ref, dt))
    decay = float(-np.expm1(-dt / tau_rc))
    spike = activation.amplitude / dt
    rate = activation(pre)  # amplitude x rate, and the soft-LIF gradient
    current = tf.stop_gradient(activation.gain * pre)
    first = current if held else current[:, 0]
    v = tf.zeros_like(first)
    refractory = tf.zeros_like(first)
    out = []
    for t in range(n_steps):
        j = current if held else current[:, t]
        refractory = refractory - dt
        # delta_t is dt out of the refractory period and 0 in it (whole steps)
        free = refractory < 0.5 * dt
        v = tf.where(free, v + (j - v) * decay, v)
        fired = v > 1
        v = tf.where(fired, tf.zeros_like(v), tf.maximum(v, 0.0))
        refractory = tf.where(fired, tf.ones_like(v) * (tau_ref + dt), refractory)
        r = rate if held else rate[:, t]
        out.append(r + tf.stop_gradient(tf.cast(fired, r.dtype) * spike - r))
    return tf.stack(out, axis=1)


class _Value:
    """A tensor of the network: held (``(B, ...)``, the same at every step) or per
    step (``(B, T, ...)``)."""

    def __init__(self, tensor, per_step):
        self.tensor, self.per_step = tensor, per_step

    def steps(self, n_steps):
        if self.per_step:
            return self.tensor
        return tf.repeat(self.tensor[:, None], n_steps, axis=1)


def _per_sample(fn, value):
    """Apply ``fn`` (a function of a batch) to every step of ``value``."""
    if not value.per_step:
        return _Value(fn(value.tensor), False)
    x = value.tensor
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], 0))
    y = fn(flat)
    return _Value(tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0)), True)


def _linear(layer):
    """The layer's weights without its activation (Conv2D, Dense)."""
    if isinstance(layer, L.Conv2D):
        def conv(x):
            y = layer.convolution_op(x, layer.kernel)
            return tf.nn.bias_add(y, layer.bias) if layer.use_bias else y
        return conv
    if isinstance(layer, L.Dense):
        def dense(x):
            y = tf.tensordot(x, layer.kernel, axes=[[x.shape.rank - 1], [0]])
            return y + layer.bias if layer.use_bias else y
        return dense
    raise ModelError(f"fine-tuning through time cannot run layer {layer.name} "
                     f"({type(layer).__name__})")


class ThroughTime(tf.keras.Model):
    """``model`` (deployed: :func:`.deploy.deployable`) run for ``n_steps`` steps as
    the chip runs it; its output is the readout at the last step, in logit units.

    The layers are ``model``'s own: training this trains them.

    Parameters
    ----------
    model : tf.keras.Model
    n_steps : int
    synapse : float or None
        Lowpass time constant (s) on connections out of neuron layers.
    output_synapse : float or None
        The readout filter's time constant (s).
    readout : {"last", "integrate"}
    dt : float
    """

    def __init__(self, model, n_steps, synapse=0.002, output_synapse=0.1, readout="last",
                 dt=0.001):
        super().__init__()
        self.net, self.n_steps, self.dt = model, int(n_steps), dt
        self.synapse, self.output_synapse, self.readout = synapse, output_synapse, readout
        # each layer's inputs in this model (a layer that the folding reused
        # from the trained model also has that model's nodes)
        self._inbound = {
            layer["name"]: [node[0] for nodes in layer["inbound_nodes"] for node in nodes]
            for layer in model.get_config()["layers"]
        }

    def _spikes(self, pre, act):
        spikes = loihi_lif(pre.tensor, act, self.n_steps, pre.per_step, self.dt)
        # spikes reach their targets a step later, through the synapse
        return _Value(_lowpass(_delayed(spikes), self.synapse, self.dt), True)

    def call(self, x, training=None):
        values = {}
        for layer in self.net.layers:
            inputs = [values[name] for name in self._inbound[layer.name]]
            act = getattr(layer, "activation", None)
            neurons = is_neuron_activation(act)
            if isinstance(layer, L.InputLayer):
                out = _Value(x, False)
            elif isinstance(layer, (L.Conv2D, L.Dense)):
                out = _per_sample(_linear(layer), inputs[0])
                out = self._spikes(out, act) if neurons else out
            elif isinstance(layer, L.Activation):
                out = self._spikes(inputs[0], act) if neurons else inputs[0]
            elif isinstance(layer, (L.Add, L.Concatenate)):
                per_step = any(v.per_step for v in inputs)
                parts = [v.steps(self.n_steps) if per_step else v.tensor for v in inputs]
                out = _Value(layer(parts), per_step)
            elif isinstance(layer, (L.Flatten, L.Reshape)):
                out = _per_sample(layer, inputs[0])
            else:
                raise ModelError(f"fine-tuning through time cannot run layer {layer.name} "
                                 f"({type(layer).__name__})")
            values[layer.name] = out
        output = values[self.net.layers[-1].name]
        # the host reads the chip's output one step later again
        trace = _delayed(output.steps(self.n_steps))
        return self.read(trace)

    def read(self, trace):
        """The readout at the last step of ``(B, T, K)`` output, in the units of a
        constant output (so, of the ANN's logits)."""
        if self.readout == "integrate":
            return tf.reduce_mean(trace, axis=1)
        if self.output_synapse is None:
            return trace[:, -1]
        a = float(np.exp(-self.dt / self.output_synapse))
        w = (1 - a) * a ** np.arange(self.n_steps - 1, -1, -1)
        return tf.tensordot(trace, tf.constant(w / w.sum(), trace.dtype), [[1], [0]])


def fine_tune(model, x_train, y_train, n_steps, epochs, base_cache, synapse=0.002,
              output_synapse=0.1, readout="last", batch_size=64, augment=0, seed=0,
              retrain=False, log=print):
    """Fine-tune deployed ``model`` through time (:class:`ThroughTime`), in place,
    or load the result from the cache.

    Parameters
    ----------
    base_cache : path
        The cache file of the parameters fine-tuning starts from; the result is
        cached beside it under a name that adds every setting here.

    Returns
    -------
    dict
        ``epochs``, ``n_steps``, ``seconds``, ``cached``, ``cache``, ``history``.
    """
    from .training import ShiftedDigits, data_digest, load_weights, save_weights

    if x_train.ndim != 4:
        raise ConfigError("fine-tuning through time runs still images only")
    key = dict(n_steps=n_steps, epochs=epochs, synapse=synapse,
               output_synapse=output_synapse, readout=readout, batch_size=batch_size,
               augment=augment, seed=seed, lr=LR, version=VERSION,
               data=data_digest(x_train, y_train), base=Path(base_cache).name)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    base = Path(base_cache)
    path = base.with_name(f"{base.stem}-time{n_steps}-{digest}.npz")
    info = dict(epochs=epochs, n_steps=n_steps, seconds=0.0, cached=False, cache=str(path),
                history={})
    with locked(path):
        if path.exists() and not retrain:
            load_weights(model, path)
            info["cached"] = True
            log(f"loaded parameters fine-tuned through time from {path}")
            return info
        log(f"fine-tuning through time: {epochs} epoch(s), {n_steps} steps per digit, "
            f"Loihi's neuron forward, the rate curve's gradient back")
        tf.keras.utils.set_random_seed(seed)
        net = ThroughTime(model, n_steps, synapse, output_synapse, readout)
        steps = epochs * -(-len(x_train) // batch_size)
        schedule = tf.keras.optimizers.schedules.CosineDecay(LR, steps, alpha=0.01)
        net.compile(optimizer=tf.keras.optimizers.Adam(schedule),
                    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
        data = (ShiftedDigits(x_train, y_train, batch_size, augment, seed) if augment
                else tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(x_train), seed=seed).batch(batch_size))
        start = time.perf_counter()
        history = net.fit(data, epochs=epochs, verbose=2)
        info["seconds"] = round(time.perf_counter() - start, 1)
        info["history"] = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        save_weights(model, path)
    log(f"saved parameters fine-tuned through time to {path}")
    return info
