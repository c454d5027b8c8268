"""Run the same test digits through several backends and compare them.

:func:`run_backends` runs each backend (timing it and sampling its memory);
:func:`compare` turns the runs into every metric of the report: accuracy at the
last step and at every step, latency, readout rules, macro recall and F1,
confusion matrices, agreement, trace error against a reference backend, firing
rates, spikes and synaptic operations per inference, the ANN's MACs and the
Loihi energy estimate.
"""

import threading
import time

import numpy as np

from . import energy, metrics, operations
from .backends import get_backend
from .backends.base import Recording
from .conversion import neuron_layers
from .result import (
    BackendResult, Comparison, Decision, Latency, Operations, Placement, TraceError,
)

#: Neurons per layer in the spike rasters (as in seeds/003's figures).
RASTER_NEURONS = 50


class PeakMemory:
    """Peak resident memory while the ``with`` block runs, in bytes.

    Samples every 20 ms in a thread, through psutil (a dependency of Dask's
    distributed). With ``children=True`` the resident memory of this process's
    child processes (a ``LocalCluster``'s workers) is added to its own.

    Parameters
    ----------
    interval : float
        Seconds between samples.
    children : bool
        Count child processes too.
    """

    def __init__(self, interval=0.02, children=False):
        import psutil

        self.interval = interval
        self.children = children
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._gone = (psutil.NoSuchProcess, psutil.AccessDenied)

    def _rss(self):
        total = self._process.memory_info().rss
        if self.children:
            for child in self._process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except self._gone:  # a worker that just exited
                    pass
        return total

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def choose_recording(model, images, n_digits=3, n_voltage=4, seed=0):
    """Which neurons every backend records, chosen once so all record the same.

    Rasters: ``RASTER_NEURONS`` random neurons per neuron layer (seeded).
    Voltages: ``n_voltage`` neurons of the last neuron layer whose ANN rate on
    the first digit is nearest the median of that layer's non-zero rates, so
    that their traces show the climb to threshold and a few spikes (a random
    neuron there is often silent, and the most driven ones fire every
    refractory period, so their voltage, read after the reset, stays at 0).
    """
    import tensorflow as tf

    rng = np.random.RandomState(seed)
    names = neuron_layers(model)
    raster = {}
    for name in names:
        size = int(np.prod(model.get_layer(name).output_shape[1:]))
        raster[name] = np.sort(rng.choice(size, min(RASTER_NEURONS, size), replace=False))
    last = names[-1]
    activity = tf.keras.Model(model.input, model.get_layer(last).output)(images[:1])
    rates = np.ravel(activity.numpy())
    active = rates[rates > 0]
    target = np.median(active) if len(active) else 0.0
    chosen = np.argsort(np.abs(rates - target), kind="stable")[:n_voltage]
    return Recording(n_digits=n_digits, raster=raster, voltage=(last, np.sort(chosen)))


def run_backends(ctx, names, images, n_digits=None, cluster=None, keep=None, on_shard=None):
    """Run the first digits of ``images`` through each backend in ``names``, timing each.

    Each backend runs in shards (:mod:`.sharding`): one after another in this
    process, or as tasks on a Dask cluster; with ``keep``, every finished shard
    is kept there and a later run of the same backend, model, settings and
    inputs loads it instead of running it again.

    Parameters
    ----------
    ctx : RunContext
    names : sequence of str
    images : stimulus.Inputs or ndarray
        The test samples (an array: still images held at every step).
    n_digits : dict, optional
        Backend → how many of the first ``images`` it runs (default: all).
    cluster : sharding.Cluster, optional
        Where to run: in this process (default), or as shards on a Dask cluster.
    keep : path, optional
        Cache folder to keep finished shards in (:class:`.sharding.ShardStore`);
        None (default): none kept.
    on_shard : callable, optional
        ``on_shard(backend, start, stop)`` after each shard that ran has finished.

    Returns
    -------
    dict
        Backend name → :class:`.BackendRun` (with ``seconds``: this run's wall
        time plus what the earlier runs took for the shards kept from them;
        ``peak_memory``: this process's, plus its child processes' on a
        cluster, so a ``LocalCluster``'s workers count but an external
        scheduler's do not).
    """
    from .sharding import run_backend, workers_of
    from .stimulus import as_inputs

    images = as_inputs(images)
    n_digits = n_digits or {}
    backends = [get_backend(n) for n in names]
    for backend in backends:
        backend.check_inputs(images.spikes is not None)
        backend.check()  # fail before any slow work
    client = None if cluster is None or cluster.in_process else cluster.client()
    runs = {}
    try:
        for backend in backends:
            digits = images[: n_digits.get(backend.name, len(images))]
            where = "" if client is None else f", {workers_of(client)} Dask workers"
            ctx.log(f"running {backend.name} on {len(digits)} {ctx.item}s "
                    f"({backend.description}{where})")
            with PeakMemory(children=client is not None) as memory:
                start = time.perf_counter()
                run = run_backend(backend, ctx, digits, client=client, keep=keep,
                                  on_shard=on_shard)
                run.seconds += time.perf_counter() - start
            run.peak_memory = memory.peak
            if run.spiking and digits.spikes is not None:
                # what was sent, for the synaptic operations it causes
                run.input_spikes = digits.spike_totals(ctx.n_steps, ctx.dt)
            runs[backend.name] = run
    finally:
        if client is not None:
            cluster_obj = client.cluster
            client.close()
            if cluster_obj is not None:
                cluster_obj.close()
    return runs


def compare(runs, labels, model, n_steps, output_synapse, dt=0.001, last_k=10,
            reference=None, readout="last", decision_margin=None, encoded_pixels=0,
            filter_macs=0):
    """Every metric of the report, from the backends' runs.

    Parameters
    ----------
    runs : dict
        Backend name → :class:`.BackendRun`, each on the first digits of the
        same test set (backends may run different numbers of them).
    labels : ndarray
        True classes of the digits (at least as many as the largest run).
    model : tf.keras.Model
        The trained model (for operation counts).
    n_steps : int
    output_synapse : nengo.synapses.Synapse or None
        The readout filter.
    last_k : int
        Steps of the mean-of-last-k readout rule.
    reference : str, optional
        Backend the others' traces are compared with (default: the first).
    readout : {"last", "integrate"}
        How the accuracy, accuracy by step and latency read the output
        (:func:`.metrics.predictions_by_step`).
    decision_margin : float, optional
        Stop each sample when its readout's leading class is this far ahead
        (:func:`.metrics.decide`); its steps and energy are counted to there.
    encoded_pixels : int
        Pixels the host codes into spikes every step (a spike encoding of still
        images; 0 otherwise), for the energy account.
    filter_macs : int
        Multiply-accumulates of the input filter per image (0: none), charged to
        every backend's energy, the ANN's included.

    Returns
    -------
    Comparison
        Per backend a :class:`.BackendResult`; agreement and shared digits per
        pair (on the digits both ran); the readout rules; operation counts.
    """
    names = list(runs)
    reference = reference or names[0]
    n_classes = runs[names[0]].traces.shape[-1]
    fan_outs, unknown = {}, {}
    # spikes sent to the input drive the first layer's synapses, on the chip
    # too: the input layer counts as a layer of spike sources
    source = model.input_names[0]
    sources = [source] if any(r.input_spikes is not None for r in runs.values()) else []
    from .deploy.network import from_keras

    network = from_keras(model)  # the description every count reads
    for layer in sources + neuron_layers(model):
        try:
            fan_outs[layer] = operations.fan_out(network, layer)
        except ValueError as e:
            unknown[layer] = str(e)
    macs = operations.ann_macs(network)

    results, final_predictions = {}, {}
    for name, run in runs.items():
        n = len(run.traces)
        truth = labels[:n]
        scores = metrics.readout_scores(run.traces, output_synapse, dt, readout)
        steps = scores.argmax(-1)
        stop, decided = metrics.decide(scores, decision_margin)
        final_predictions[name] = steps[:, -1]
        latency = metrics.latency_steps(steps, truth)
        confusion = metrics.confusion_matrix(truth, steps[:, -1], n_classes)
        rules = metrics.readout_predictions(run.traces, last_k, output_synapse, dt)
        shared = min(n, len(runs[reference].traces))
        nrmse, corr = metrics.trace_error(
            run.traces[:shared], runs[reference].traces[:shared], output_synapse, dt
        )
        counts, rates = run.spike_counts, run.firing_rates
        if run.spiking and run.input_spikes is not None:
            counts = {source: run.input_spikes, **counts}
            seconds = n * n_steps * dt
            rates = {source: float(run.input_spikes.sum() / (run.input_spikes.size * seconds)),
                     **rates}
        result = BackendResult(
            name=name,
            description=get_backend(name).description,
            accuracy=float(np.mean(steps[:, -1] == truth)),
            n_test=n,
            seconds=round(run.seconds, 2),
            peak_memory_mb=round(run.peak_memory / 2**20, 1),
            spiking=run.spiking,
            accuracy_by_step=[float(a) for a in metrics.step_accuracy(steps, truth)],
            latency=Latency(
                mean_steps=_finite_mean(latency),
                median_steps=_finite_median(latency),
                settled_fraction=float(np.mean(np.isfinite(latency))),
            ),
            readout={rule: float(np.mean(p == truth)) for rule, p in rules.items()},
            **metrics.macro_scores(confusion),
            confusion=confusion.tolist(),
            firing_rates={k: round(v, 3) for k, v in rates.items()},
            trace_error=TraceError(reference=reference, n_digits=shared,
                                   nrmse=_floats(nrmse), correlation=_floats(corr)),
            placement=Placement.from_dict(run.placement) if run.placement else None,
            decision=Decision(
                margin=decision_margin, accuracy=float(np.mean(decided == truth)),
                mean_steps=float(stop.mean()), decided_fraction=float(np.mean(stop < n_steps)),
            ),
            run=run,
        )
        if run.spiking:
            spikes = {k: float(c.sum() / n) for k, c in counts.items()}
            synops = operations.synaptic_ops(counts, fan_outs, n)
            result.spikes_per_inference = spikes
            result.synops_per_inference = {k: sum(v.values()) for k, v in synops.items()}
            if run.step_counts is not None:
                facts = run_facts(run, macs, n_classes, encoded_pixels, filter_macs)
                result.energy = energy.account(run.step_counts, facts, stop=stop)
        else:
            result.macs_per_inference = macs
            result.energy = energy.ann_account(sum(macs.values()), filter_macs)
        results[name] = result

    return Comparison(
        backends=results,
        agreement=metrics.agreement_matrix(final_predictions),
        shared_digits={a: {b: min(len(pa), len(pb)) for b, pb in final_predictions.items()}
                       for a, pa in final_predictions.items()},
        reference=reference,
        readout_rules=metrics.readout_rules(min(last_k, n_steps)),
        operations=Operations(
            ann_macs_per_inference=macs,
            synapses_out_of=_synapse_counts(fan_outs),
            not_counted=unknown,
        ),
        energy_sources=dict(loihi=energy.LOIHI_SOURCE, mac=energy.HOST_SOURCE),
    )


def run_facts(run, macs, n_classes, encoded_pixels=0, filter_macs=0):
    """The deployed network's shape, as the energy account needs it
    (:class:`.energy.RunFacts`), from a chip backend's run."""
    layers = {k: v for k, v in run.placement.items() if k != "totals"}
    host = [k for k, v in layers.items() if v["where"] == "host"]
    return energy.RunFacts(
        # every compartment nengo-loihi built, which the engine updates
        chip_compartments=run.placement["totals"]["compartments"],
        host_neurons=sum(layers[k]["neurons"] for k in host),
        host_input_macs=sum(macs.get(k, 0) for k in host),
        input_held=run.input_spikes is None,
        encoded_pixels=encoded_pixels,
        n_classes=n_classes,
        filter_macs=filter_macs,
    )


def _synapse_counts(fan_outs):
    return {
        layer: {c: int(f.sum()) for c, f in consumers.items()}
        for layer, consumers in fan_outs.items()
    }


def _floats(values):
    return [None if not np.isfinite(v) else float(v) for v in values]


def _finite_mean(values):
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _finite_median(values):
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else None


def predictions(traces, synapse, dt=0.001):
    """Class chosen by the default readout (filtered output, last step), per digit."""
    return metrics.predictions_by_step(traces, synapse, dt)[:, -1]
