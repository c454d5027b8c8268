"""The LIF rate activation that Keras trains with, and its Nengo neuron twins.

The Keras model is trained through the *exact* steady-state firing rate of the LIF
neuron that the converted network will run (``nengo.LIFRate`` with gain 1 and bias 0,
which is how ``nengo_dl.Converter`` builds its ensembles). The forward pass is that
exact rate, so the Keras ANN, NengoDL's rate network and the spiking network's mean
rates all describe the same function. Only the gradient is smoothed (the soft-LIF of
Hunsberger & Eliasmith, 2015): the exact LIF curve has zero slope below threshold and
an infinite one at it, which would leave silent neurons silent for ever.
"""

import nengo
import numpy as np
import tensorflow as tf

from . import defaults
from ._quiet import import_nengo_dl

# nengo_loihi.neurons imports nengo-dl (to install its Loihi neuron builders):
# import that first, quietly
import_nengo_dl()
from nengo_loihi.neurons import LoihiLIF, discretize_tau_rc, discretize_tau_ref  # noqa: E402


#: the time step a quantised activation counts its window in (s): the runs' own
QUANTIZE_DT = 0.001


class LIFActivation:
    """Keras activation: ``amplitude * rate(gain * x)``, the LIF firing rate.

    Parameters
    ----------
    tau_rc : float
        Membrane time constant in seconds.
    tau_ref : float
        Refractory period in seconds.
    amplitude : float
        Activation per Hz: the output is ``amplitude`` times the firing rate (the
        converted network's spikes have height ``amplitude / dt``, so that their
        mean equals this activation). This sets how many spikes carry a value:
        with 0.01, training settles on mean rates of 4 to 18 Hz, under one spike
        per neuron in 30 steps; with 0.002, four times more (see
        :mod:`nengo_vision.defaults` for the measurements).
    gain : float
        Input current per unit of the layer's pre-activation; a larger gain drives
        neurons further above threshold for the same weights. Implemented in the
        converted network by ``nengo_dl.Converter(scale_firing_rates=gain)``, which
        sets the ensembles' gain and divides the spike amplitude back.
    sigma : float
        Smoothing of the gradient (soft-LIF); the forward pass is not smoothed.
    noise : float
        Standard deviation of Gaussian noise added to the input current ``j``
        (in units of the threshold current) while training, never in inference.
        Spiking neurons receive their input as spikes, whose current fluctuates
        around the mean the rate model sees; a network trained on exact rates can
        rest on differences smaller than those fluctuations (``vgg_mnist``: 99 %
        as an ANN, chance as spikes). Training through noise of about the size
        of the fluctuations makes it keep margins the spikes respect (Hunsberger
        & Eliasmith, 2016, trained their spiking CNNs with noise for the same
        reason).
    quantize : int, optional
        Train through rates quantised to the spike counts ``quantize`` steps
        of 1 ms can hold: ``round(rate * T) / T`` with ``T = quantize * 1 ms``
        (the clip-floor-shift activation of Bu et al., ICLR 2022, on the LIF
        curve), with the rate curve's gradient. QCFS makes an ANN's
        activations equal the spike counts of integrate-and-fire neurons that
        reset by subtraction; Loihi's reset to zero loses a neuron's voltage
        above threshold at each spike, so what quantised training gives here is
        measured, not assumed.

    Notes
    -----
    One instance is shared by all layers of a model, so that the Converter's
    ``swap_activations`` maps it to the spiking neuron in one dictionary entry.
    """

    def __init__(
        self,
        tau_rc=0.02,
        tau_ref=0.002,
        amplitude=defaults.AMPLITUDE,
        gain=defaults.GAIN,
        sigma=0.02,
        noise=0.0,
        quantize=None,
    ):
        self.gain = float(gain)
        self.noise = float(noise)
        self.quantize = None if quantize is None else int(quantize)
        self.tau_rc = float(tau_rc)
        self.tau_ref = float(tau_ref)
        self.amplitude = float(amplitude)
        self.sigma = float(sigma)
        self.__name__ = "lif_rate"  # Keras names activations by __name__

    #: neuron family, as results.json and --neuron name it
    kind = "lif"

    def rate_of_current(self, j):
        """Firing rate (Hz) for input current ``j`` (a tensor).

        The neuron fires above ``j = 1``, once per inter-spike period; the
        activation is ``amplitude`` times this rate at ``j = gain * x``.
        """
        tau_rc, tau_ref = self._forward_taus()
        above = j > 1
        safe = tf.where(above, j - 1, tf.ones_like(j))
        period = tau_ref + tau_rc * tf.math.log1p(1.0 / safe)
        return tf.where(above, self._rate_of_period(period), tf.zeros_like(j))

    def _forward_taus(self):
        return self.tau_rc, self.tau_ref

    def _rate_of_period(self, period):
        # nengo.LIFRate: any period, so the rate follows the current smoothly
        return 1.0 / period

    def _gradient_taus(self):
        """``(tau_rc, tau_ref)`` of the smooth curve the gradient follows."""
        return self.tau_rc, self.tau_ref

    @property
    def max_rate(self):
        """Highest rate (Hz) the neuron reaches: one spike per ``tau_ref``, and at
        most one per step of 1 ms (nengo's LIF spikes once a step at most; the
        pipeline's dt), which is the ceiling without a refractory period."""
        return 1.0 / max(self.tau_ref, 0.001)

    def __call__(self, x):
        lif_rate = _compiled(self)
        j = self.gain * x
        if self.noise:
            # Keras's training flag of the layer being called: noisy in fit,
            # exact in predict and evaluate
            j = tf.keras.backend.in_train_phase(
                lambda: j + tf.random.normal(tf.shape(j), stddev=self.noise, dtype=j.dtype),
                j,
            )
        return lif_rate(j)

    def _rate_and_gradient(self):
        """``(forward, gradient)``: the activation of the current ``j`` and the
        gradient ``(dy, j) -> dx`` of the soft-LIF curve, as plain functions of
        tensors (:func:`_compiled` compiles them)."""
        amp, sigma = self.amplitude, self.sigma
        tau_rc, tau_ref = self._gradient_taus()

        def forward(j):
            rate = self.rate_of_current(j)
            if self.quantize:
                # spike counts in the window, rounded half up (QCFS's shift)
                window = self.quantize * QUANTIZE_DT
                rate = tf.floor(rate * window + 0.5) / window
            return amp * rate

        def gradient(dy, j):
            # derivative of the soft-LIF rate: j - 1 is replaced by
            # sigma * softplus((j - 1) / sigma), which is positive everywhere
            z = (j - 1) / sigma
            soft = tf.math.softplus(z)
            p = tf.maximum(sigma * soft, 1e-30)
            r = 1.0 / (tau_ref + tau_rc * tf.math.log1p(1.0 / p))
            # sigmoid(z) / softplus(z) tends to 1 far below threshold, where
            # both underflow; compute the ratio without dividing 0 by 0
            ratio = tf.where(z < -20, tf.ones_like(z), tf.sigmoid(z) / soft)
            return dy * amp * r * r * tau_rc / (sigma * (p + 1)) * ratio

        return forward, gradient

    # The Converter divides the neuron's amplitude by scale_firing_rates (= gain),
    # so the neurons handed to it carry amplitude * gain.

    def rate_neuron(self):
        """The Nengo rate neuron to convert to (``nengo.LIFRate``)."""
        return nengo.LIFRate(
            tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude * self.gain
        )

    def spiking_neuron(self):
        """The Nengo spiking neuron this activation approximates (``nengo.LIF``).

        Voltages start at zero, as they do on Loihi (nengo's default is a random
        start, which Loihi cannot reproduce), so every backend starts alike.
        """
        return nengo.LIF(
            tau_rc=self.tau_rc,
            tau_ref=self.tau_ref,
            amplitude=self.amplitude * self.gain,
            initial_state={"voltage": nengo.dists.Choice([0.0])},
        )

    def rates_hz(self, activation):
        """Firing rates in Hz from this activation's output values."""
        return np.asarray(activation) / self.amplitude

    def scaled(self, factor):
        """The same neuron driven ``factor`` times harder, its output scaled back.

        ``gain * factor`` and ``amplitude / factor``, which is what
        ``nengo_dl.Converter(scale_firing_rates=...)`` does to a layer: where the
        rate grows in proportion to the input the activation stays the same
        while the neuron fires ``factor`` times as often (LIF only roughly so;
        see :mod:`nengo_vision.calibration`, which also keeps the threshold).
        """
        config = self.get_config()
        config.update(gain=self.gain * factor, amplitude=self.amplitude / factor)
        return type(self)(**config)

    def get_config(self):
        return dict(
            tau_rc=self.tau_rc,
            tau_ref=self.tau_ref,
            amplitude=self.amplitude,
            gain=self.gain,
            sigma=self.sigma,
            # only when set, so that the training cache keys of runs without
            # noise or quantisation stay what they were
            **({"noise": self.noise} if self.noise else {}),
            **({"quantize": self.quantize} if self.quantize else {}),
        )


class LoihiLIFActivation(LIFActivation):
    """Keras activation: the firing rate of Loihi's discretised LIF neuron.

    Loihi updates its neurons once per time step, so a neuron's inter-spike
    interval is a whole number of steps: the rate is ``1 / (dt * ceil(period /
    dt))``, a staircase under the LIF curve that saturates at one spike every
    ``tau_ref / dt + 1`` steps (333 Hz with the defaults, against 500 Hz for
    ``nengo.LIF``). ``tau_rc`` and ``tau_ref`` are first rounded as the chip
    rounds them. The forward pass is exactly ``nengo_loihi.neurons.LoihiLIF
    .rates``, so the ANN computes what the emulator's neurons do on average.

    The gradient is the soft-LIF one through the LIF curve with the refractory
    period lengthened by half a step, which runs through the middle of the
    staircase (the same choice as nengo-extras' ``LoihiLIFBuilder``).

    Parameters
    ----------
    dt : float
        Simulation time step in seconds (the chip's step).
    **kwargs
        As :class:`LIFActivation`.
    """

    kind = "loihi"

    def __init__(self, dt=0.001, **kwargs):
        super().__init__(**kwargs)
        self.dt = float(dt)
        self.__name__ = "loihi_lif_rate"

    @property
    def chip_tau_rc(self):
        """``tau_rc`` as the chip's 12-bit voltage decay represents it."""
        return float(discretize_tau_rc(self.tau_rc, self.dt))

    @property
    def chip_tau_ref(self):
        """``tau_ref`` rounded to whole steps, as the chip counts it."""
        return float(discretize_tau_ref(self.tau_ref, self.dt))

    @property
    def max_rate(self):
        """Highest rate (Hz): one spike per ``tau_ref / dt + 1`` steps."""
        return 1.0 / (self.chip_tau_ref + self.dt)

    def _forward_taus(self):
        return self.chip_tau_rc, self.chip_tau_ref

    def _rate_of_period(self, period):
        # the chip spikes on whole steps: the period is rounded up to one
        return 1.0 / (self.dt * tf.math.ceil(period / self.dt))

    def _gradient_taus(self):
        return self.chip_tau_rc, self.chip_tau_ref + 0.5 * self.dt

    def rate_neuron(self):
        """The rate twin for NengoDL: ``LoihiLIF``, run in NengoDL's training mode.

        NengoDL has no Loihi rate neuron type; the NengoDL builder of ``LoihiLIF``
        (from nengo-extras, installed by nengo-loihi) computes this staircase
        rate in training mode, which :class:`.NengoDLRateBackend` switches on.
        """
        return self.spiking_neuron()

    def spiking_neuron(self):
        """``nengo_loihi.neurons.LoihiLIF``: Loihi's neuron, for Nengo and NengoDL.

        Its voltage and refractory time start at zero, as on the chip.
        """
        return LoihiLIF(
            tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude * self.gain
        )

    def get_config(self):
        return dict(super().get_config(), dt=self.dt)


#: the compiled activation of each neuron configuration (see :func:`_compiled`)
_COMPILED = {}


def _compiled(activation):
    """``activation``'s rate with its soft-LIF gradient, each compiled by XLA.

    The rate and its gradient are some twenty elementwise operations on every
    neuron's current; run one by one they read and write the whole layer each
    time and took two thirds of a training step of ``scnn_mnist`` (CPU time:
    103 ms a step of 64 digits, 32 ms with ReLU). XLA fuses each into one pass
    over the layer. Only these are compiled: the convolutions stay TensorFlow's
    (XLA's own were several times slower on CPU). Kept per configuration, so
    that every call (every layer, every eager batch) reuses the compiled code.
    """
    key = (type(activation), tuple(sorted(activation.get_config().items())))
    if key not in _COMPILED:
        forward, gradient = activation._rate_and_gradient()
        forward = tf.function(forward, jit_compile=True, autograph=False)
        gradient = tf.function(gradient, jit_compile=True, autograph=False)

        @tf.custom_gradient
        def lif_rate(j):
            return forward(j), lambda dy: gradient(dy, j)

        _COMPILED[key] = lif_rate
    return _COMPILED[key]


#: --neuron choices: the rate activation each trains through
ACTIVATIONS = {"lif": LIFActivation, "loihi": LoihiLIFActivation}


def is_neuron_activation(activation):
    """True for this package's rate activations (the layers that become neurons)."""
    return isinstance(activation, LIFActivation)
