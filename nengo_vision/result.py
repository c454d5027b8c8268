"""The typed result of a run: what the report, the CSV tables, the plots and
``results.json`` all read.

:class:`Result` holds the settings, the training and calibration facts, one
:class:`BackendResult` per backend (its metrics, and its raw
:class:`.BackendRun`: traces, spikes, voltages), the comparisons between
backends and the operation counts. :meth:`Result.to_dict` is ``results.json``;
:meth:`Result.write` writes the whole report, and :meth:`Result.load` reads it
back (:mod:`.report.load`).
"""

import datetime
import os
import platform
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


def machine():
    """This machine in one line, for reports."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def now():
    return datetime.datetime.now().isoformat(timespec="seconds")


@dataclass
class Latency:
    """When a backend's class settles, in steps (see :func:`.metrics.latency_steps`).

    Attributes
    ----------
    mean_steps, median_steps : float or None
        Over the digits whose class ends right (None if none does).
    settled_fraction : float
        The fraction of digits whose class ends right.
    """

    mean_steps: Optional[float]
    median_steps: Optional[float]
    settled_fraction: float


@dataclass
class TraceError:
    """A backend's filtered output against the reference's, per step.

    Attributes
    ----------
    reference : str
    n_digits : int
        The digits both ran.
    nrmse, correlation : list
        Per step (None where undefined).
    """

    reference: str
    n_digits: int
    nrmse: list
    correlation: list


@dataclass
class LayerPlacement:
    """Where one neuron layer runs, and what it takes on the chip.

    ``where`` is ``"host"`` or ``"chip"``; the chip's layers also have the
    block shape, cores and resources of :func:`.partition.resource_report`
    (in ``resources``, by name).
    """

    where: str
    neurons: int
    block_shape: Optional[tuple] = None
    cores: Optional[int] = None
    resources: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        known = {k: d.pop(k) for k in ("where", "neurons", "block_shape", "cores") if k in d}
        if known.get("block_shape") is not None:
            known["block_shape"] = tuple(known["block_shape"])
        return cls(**known, resources=d)

    def to_dict(self):
        out = dict(where=self.where, neurons=self.neurons)
        if self.block_shape is not None:
            out["block_shape"] = list(self.block_shape)
        if self.cores is not None:
            out["cores"] = self.cores
        out.update(self.resources)
        return out


@dataclass
class Placement:
    """Every neuron layer's :class:`LayerPlacement` and the chip totals."""

    layers: dict
    totals: dict

    @classmethod
    def from_dict(cls, d):
        return cls(
            layers={k: LayerPlacement.from_dict(v) for k, v in d.items() if k != "totals"},
            totals=dict(d.get("totals", {})),
        )

    def to_dict(self):
        return {**{k: v.to_dict() for k, v in self.layers.items()}, "totals": self.totals}

    @property
    def on_chip(self):
        return [k for k, v in self.layers.items() if v.where == "chip"]


@dataclass
class Decision:
    """When samples stop and what they decide (see :func:`.metrics.decide`).

    Attributes
    ----------
    margin : float or None
        The rule's margin (None: every sample runs every step).
    accuracy : float
        Accuracy of the classes at the decisions.
    mean_steps : float
        Mean steps to a decision (the steps the energy is counted for).
    decided_fraction : float
        Samples stopped before the last step by the rule.
    """

    margin: Optional[float]
    accuracy: float
    mean_steps: float
    decided_fraction: float


@dataclass
class BackendResult:
    """One backend's metrics on the digits it ran, and its raw run.

    Attributes
    ----------
    name, description : str
    accuracy : float
        Default readout (filtered output, last step).
    n_test : int
        The first digits it ran.
    seconds, peak_memory_mb : float
    spiking : bool
    accuracy_by_step : list
    latency : Latency
    readout : dict
        Readout rule → accuracy.
    recall, precision, f1 : float
        Macro averages.
    confusion : list
        ``[true][predicted]`` counts.
    firing_rates : dict
        Layer → mean rate (Hz).
    trace_error : TraceError
    decision : Decision
        The classes at each sample's decision, and the steps taken to it.
    spikes_per_inference, synops_per_inference : dict or None
        Spiking backends only.
    macs_per_inference : dict or None
        The ANN and rate networks.
    energy : EnergyAccount or None
        Every operation per inference and its energy (:mod:`.energy`): the
        emulated chip's (counted by the batched engine), or the ANN's arithmetic.
    placement : Placement or None
    run : BackendRun
        Traces, spike counts, rasters and voltages (not in ``results.json``).
    """

    name: str
    description: str
    accuracy: float
    n_test: int
    seconds: float
    peak_memory_mb: float
    spiking: bool
    accuracy_by_step: list
    latency: Latency
    readout: dict
    recall: float
    precision: float
    f1: float
    confusion: list
    firing_rates: dict
    trace_error: TraceError
    decision: Optional[Decision] = None
    spikes_per_inference: Optional[dict] = None
    synops_per_inference: Optional[dict] = None
    macs_per_inference: Optional[dict] = None
    energy: Optional[object] = None
    placement: Optional[Placement] = None
    run: object = field(default=None, repr=False)

    @property
    def stderr(self):
        """Standard error of ``accuracy`` on ``n_test`` digits."""
        p = self.accuracy
        return float(np.sqrt(p * (1 - p) / self.n_test))

    @property
    def digits_per_second(self):
        return self.n_test / max(self.seconds, 1e-9)

    def to_dict(self):
        """This backend's entry of ``results.json`` (keys in their historic order)."""
        out = dict(
            accuracy=self.accuracy, n_test=self.n_test, seconds=self.seconds,
            peak_memory_mb=self.peak_memory_mb, spiking=self.spiking,
            accuracy_by_step=self.accuracy_by_step, latency=vars(self.latency).copy(),
            readout=self.readout, recall=self.recall, precision=self.precision, f1=self.f1,
            confusion=self.confusion, firing_rates=self.firing_rates,
        )
        if self.decision is not None:
            out["decision"] = vars(self.decision).copy()
        if self.spiking:
            out["spikes_per_inference"] = self.spikes_per_inference
            out["synops_per_inference"] = self.synops_per_inference
        else:
            out["macs_per_inference"] = self.macs_per_inference
        if self.energy is not None:
            out["energy"] = self.energy.to_dict()
        if self.placement is not None:
            out["placement"] = self.placement.to_dict()
        out["trace_error"] = vars(self.trace_error).copy()
        return out


@dataclass
class Operations:
    """What the network computes per inference, independent of the backend.

    Attributes
    ----------
    ann_macs_per_inference : dict
        Layer → the ANN's multiply-accumulates per image.
    synapses_out_of : dict
        Neuron layer → {consumer layer: synapses}.
    not_counted : dict
        Neuron layer → why its synapses could not be counted.
    """

    ann_macs_per_inference: dict
    synapses_out_of: dict
    not_counted: dict

    @property
    def ann_macs_total(self):
        return int(sum(self.ann_macs_per_inference.values()))

    def to_dict(self):
        return dict(ann_macs_per_inference=self.ann_macs_per_inference,
                    ann_macs_total=self.ann_macs_total,
                    synapses_out_of=self.synapses_out_of, not_counted=self.not_counted)


@dataclass
class Comparison:
    """The backends side by side (see :func:`.harness.compare`).

    Attributes
    ----------
    backends : dict
        Name → :class:`BackendResult`.
    agreement, shared_digits : dict
        Per pair of backends, on the digits both ran.
    reference : str
        The backend traces are compared with.
    readout_rules : dict
        Rule → what it is.
    operations : Operations
    energy_sources : dict
        Where the per-operation energies come from.
    """

    backends: dict
    agreement: dict
    shared_digits: dict
    reference: str
    readout_rules: dict
    operations: Operations
    energy_sources: dict


@dataclass
class Result:
    """Everything one run produced; :meth:`write` puts it on disk.

    Attributes
    ----------
    config : Config
        The settings it ran with.
    model : str
        The model's name.
    model_source : dict or str
        ``"zoo"``, or the model file's path and hash.
    dataset : str
    training : dict
        Epochs, digits, schedule, cache and history.
    calibration : dict or None
    neuron : dict
        The neuron type and its parameters.
    comparison : Comparison
    images, labels, indices : ndarray
        The test inputs (the first ``n_test``), their classes and test-set indices.
    recording : Recording
        The neurons whose spikes and voltages were kept.
    dt : float
        The time step the backends ran with (s).
    classes : tuple of str
        The class names, in label order.
    noise : dict
        ``"kind:level"`` → backend → ``{"accuracy", "n_test"}``: the same test
        inputs with that noise added (``config.test_noise``); empty without.
    date, machine : str
    """

    config: object
    model: str
    model_source: object
    dataset: str
    training: dict
    calibration: Optional[dict]
    neuron: dict
    comparison: Comparison
    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)
    recording: object = field(repr=False)
    dt: float = 0.001
    classes: tuple = ()
    noise: dict = field(default_factory=dict)
    date: str = field(default_factory=now)
    machine: str = field(default_factory=machine)
    #: file names written by :meth:`write` (set there)
    plots: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    #: the trained Keras model the backends ran (in memory only)
    model_object: object = field(default=None, repr=False)
    #: wall seconds of :func:`.pipeline.run`'s stages (load_data, check, train,
    #: evaluate: the backends and the comparison); empty where it did not run them
    timings: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder):
        """The run whose report :meth:`write` wrote to ``folder``, read back from its
        ``results.json`` and ``traces.npz`` (see :func:`.report.load.load_result`):
        its report written again is the same; it holds no model."""
        from .report.load import load_result

        return load_result(folder)

    def export_nir(self, path):
        """Write the network this run ran as a NIR graph at ``path``, with the
        run's synapses and readout filter (see
        :func:`.pipeline.export_nir`); returns what NIR could not say (each
        line also warned)."""
        from .errors import ModelError
        from .pipeline import export_nir

        if self.model_object is None:
            raise ModelError("this result holds no model (it was read from a file); "
                             "export from the run that made it")
        return export_nir(self.config, self.model_object, path, log=None)

    @property
    def backends(self):
        """Backend name → :class:`BackendResult`."""
        return self.comparison.backends

    @property
    def output_filter(self):
        """The readout filter, a ``nengo.Lowpass`` (or None: the raw output)."""
        from .metrics import parse_synapse

        return parse_synapse(self.config.output_synapse)

    @property
    def item(self):
        """What one test sample is called ("digit", "recording")."""
        from .datasets import get_dataset

        return get_dataset(self.dataset).item

    def class_name(self, label):
        """The name of class ``label`` (the label itself where names are unknown)."""
        label = int(label)
        return self.classes[label] if label < len(self.classes) else str(label)

    @property
    def test_indices(self):
        return (f"the first {self.item}s of the {self.dataset.upper()} test set, in order; "
                f"each backend ran the first backends.NAME.n_test of them")

    def to_dict(self):
        """``results.json``: plain JSON types, keys as the command line always wrote them."""
        c, cmp = self.config, self.comparison
        return dict(
            model=self.model,
            model_source=self.model_source,
            dataset=self.dataset,
            # every setting, and which were given: Config.from_dict(this) runs it again
            config=c.record(),
            classes=list(self.classes),
            input_filter=dict(name=c.input_filter, sigmas=list(c.dog_sigma))
            if c.input_filter != "none" else None,
            noise=self.noise,
            n_steps=c.n_steps,
            n_test=c.n_test,
            test_indices=self.test_indices,
            cluster=dict(workers=c.workers, scheduler=c.scheduler),
            seed=c.seed,
            dt=self.dt,
            encoding=c.encoding,
            input_rate=c.input_rate,
            input_synapse=c.input_synapse,
            synapse=c.synapse,
            output_synapse=c.output_synapse,
            readout=c.readout,
            decision_margin=c.decision_margin,
            last_k=c.last_k,
            neuron=self.neuron,
            calibration=self.calibration,
            training=self.training,
            descriptions={n: b.description for n, b in self.backends.items()},
            recording=dict(
                digits=min(self.recording.n_digits, len(self.images)),
                raster_neurons={k: v.tolist() for k, v in self.recording.raster.items()},
                voltage_layer=self.recording.voltage[0],
                voltage_neurons=self.recording.voltage[1].tolist(),
            ),
            backends={n: b.to_dict() for n, b in self.backends.items()},
            agreement=cmp.agreement,
            shared_digits=cmp.shared_digits,
            reference=cmp.reference,
            readout_rules=cmp.readout_rules,
            operations=cmp.operations.to_dict(),
            energy_sources=cmp.energy_sources,
            date=self.date,
            machine=self.machine,
            timings=self.timings,
            plots=self.plots,
            tables=self.tables,
        )

    def write(self, out):
        """Write the whole report to folder ``out`` (see :mod:`.report`); returns it."""
        from .report import write_report

        return write_report(self, out)

    def table(self):
        """The results as a plain-text table, one line per backend."""
        from .report.text import table

        return table(self)
