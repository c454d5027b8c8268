"""Defaults shared by the command line, the benchmarks and the library.

Kept free of heavy imports so that ``--help`` answers without loading TensorFlow.

The LIF operating range was measured on ``scnn_mnist`` by
``benchmarks/bench_operating_range.py`` (10 epochs with shifted digits and cosine
decay, first 2,000 test digits, NengoDL at 30 steps, 20 ms readout; 2026-11-22;
the lines are in ``benchmarks/results/operating_range.jsonl``):

=========  =========  ===========  ==============  ===================
gain       amplitude  Keras ANN    NengoDL spikes  mean rates (Hz)
=========  =========  ===========  ==============  ===================
3          0.01       99.25 %      97.85 %         2 / 8 / 12
10         0.01       99.15 %      98.25 %         4 / 11 / 18
10         0.002      98.95 %      98.80 %         14 / 35 / 74
10         0.001      98.15 %      97.80 %         32 / 69 / 129
=========  =========  ===========  ==============  ===================

The ANN's activations are ``amplitude`` times the firing rates, so a smaller
amplitude makes the same activations cost more spikes: the spiking network then
tracks the ANN far more closely. Too small an amplitude slows learning (the
activations a layer passes on start five to ten times smaller) and the ANN itself
falls behind in the same number of epochs.
"""

#: training epochs of the main job (the benchmark trains 20)
EPOCHS = 10
#: digits per training batch
TRAIN_BATCH_SIZE = 64
#: digits per batch when Keras and NengoDL run the test digits
BATCH_SIZE = 50
#: input current per unit of a layer's pre-activation
GAIN = 10.0
#: activation per Hz of firing rate
AMPLITUDE = 0.002
#: random shift, in pixels, of the training digits
AUGMENT = 2
#: time constant (s) of the readout filter on the output. NengoDL's spiking-MNIST
#: report (shared/seeds/002) reads its output through a 0.1 s filter too. At 30
#: steps it weighs all steps almost alike; a 20 ms filter keeps only the last few
#: and lost 0.1 point in NengoDL and 0.9 on the emulator (2026-11-22, 20 epochs).
OUTPUT_SYNAPSE = 0.1
#: Weight of the --rate-penalty penalty. Measured with amplitude 0.01 (target
#: 100-150 Hz): 1.0 cost 5 points of ANN test accuracy after one epoch; 0.01
#: raised the ANN's mean rates up to 2.5-fold (conv0; conv2 not at all) and left
#: NengoDL's spiking accuracy unchanged (98.25 % on the first 2,000 test digits,
#: 10 epochs, gain 10). Lowering --amplitude did more.
RATE_WEIGHT = 0.01
#: Weight of the --spike-budget penalty, ``BUDGET_WEIGHT * max(0, r / budget - 1)**2``
#: per layer: a layer at twice its budget adds as much as a cross-entropy of 1.
BUDGET_WEIGHT = 1.0
#: Calibration: a rate at HEADROOM of the neuron's ceiling or above counts as
#: saturated ...
HEADROOM = 0.9
#: ... and at most this fraction of a layer's active rates may be saturated.
MAX_SATURATED = 0.01
