"""The deployed network in and out of NIR, the Neuromorphic Intermediate Representation.

:func:`export_nir` writes a trained model as a NIR graph (:mod:`.nir_export`);
:func:`.nir_import.network_from_nir` reads one back into a
:class:`~.deploy.network.Network` (``--model graph.nir``); :mod:`.norse_run` runs a
graph in Norse, the second simulator that checks both directions.

Time and spikes, which NIR leaves to each simulator (``dt`` is not in a graph):
graphs written here follow the convention of the PyTorch simulators that read
NIR (Norse, snnTorch): a spike is a value of 1 for one time step, and the
neurons are integrated with steps of ``dt``, which the graph's metadata records
(``metadata["dt"]``). ``--nir-dt`` gives the step to read a graph with
(default: its metadata's, else 0.001 s); a graph written here keeps its
weights whatever the step, as their scale is in the nodes' metadata. NIR's equations are otherwise taken as written: ``tau dv/dt = v_leak
- v + r I``, a spike when ``v`` passes ``v_threshold``, then ``v = v_reset``.

This package needs ``nir`` (``pip install nengo_vision[nir]``); the errors say so.
"""

from .nir_export import export_nir, network_to_nir

#: NIR node type → what it becomes here (and on Loihi): the README's table.
NODES = {
    "Input": "the input node (host): images held at every step, or spikes",
    "Output": "the readout (host)",
    "Affine": "a dense layer's weights and bias (Loihi: synapses; biases in the neurons)",
    "Linear": "a dense layer's weights, no bias",
    "Conv2d": "a convolution's weights and bias (padding given as numbers or 'same'/'valid')",
    "SumPool2d": "average pooling times the window's area, folded into the next weights",
    "AvgPool2d": "average pooling, folded into the next weights",
    "Flatten": "nothing (the next Affine's inputs reordered from NIR's C,H,W to H,W,C)",
    "Scale": "folded into the weights before it (or after it, behind neurons)",
    "LIF": "nengo's LIF (tau_rc = tau, no refractory period); r, v_threshold and "
           "v_leak folded into weights and bias; v_reset must be 0, as Loihi resets to zero",
    "CubaLIF": "a lowpass synapse (tau_syn: --synapse, or --input-synapse on the "
               "first layer) into nengo's LIF (tau_mem)",
    "IF": "a LIF neuron with tau_rc = 1000 s (on Loihi: no decay at all)",
    "Threshold": "a LIF neuron whose voltage is forgotten within a step (tau_rc = 0.1 ms)",
    "LI": "before Output: the readout filter (--output-synapse = tau); between neurons "
          "and the readout's weights: the synapse into the readout (--synapse = tau)",
    "I": "before Output: the summed output (--readout integrate)",
}

__all__ = ["NODES", "export_nir", "network_to_nir"]
