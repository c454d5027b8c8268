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
    ):
        self.gain = float(gain)
        self.tau_rc = float(tau_rc)
        self.tau_ref = float(tau_ref)
        self.amplitude = float(amplitude)
        self.sigma = float(sigma)
        self.__name__ = "lif_rate"  # Keras names activations by __name__

    def __call__(self, x):
        tau_rc, tau_ref, amp, sigma = self.tau_rc, self.tau_ref, self.amplitude, self.sigma
        gain = self.gain

        @tf.custom_gradient
        def lif_rate(j):
            # exact LIF rate, as nengo.LIFRate.rates computes it (threshold at j = 1)
            above = j > 1
            safe = tf.where(above, j - 1, tf.ones_like(j))
            rate = tf.where(
                above, 1.0 / (tau_ref + tau_rc * tf.math.log1p(1.0 / safe)), 0.0
            )

            def grad(dy):
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

            return amp * rate, grad

        return lif_rate(gain * x)

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

    def get_config(self):
        return dict(
            tau_rc=self.tau_rc,
            tau_ref=self.tau_ref,
            amplitude=self.amplitude,
            gain=self.gain,
            sigma=self.sigma,
        )
