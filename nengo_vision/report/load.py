"""A finished run read back from its report folder: :func:`load_result` (that is
:meth:`.Result.load`) turns ``results.json`` and ``traces.npz`` into the
:class:`.Result` the run wrote them from, and :func:`rewrite_report` writes its
report again (``nengo-vision report RUN``)::

    result = nv.Result.load("out")
    result.backends["loihi-emulator"].energy.joules("chip")
    result.write("out-again")     # the same report

What a loaded result holds is what the report reads: the settings
(:meth:`.Config.from_dict`), every backend's metrics as typed objects, and its
raw :class:`.BackendRun` (traces, rasters, voltages, spike counts, the chip's
counts per step) from ``traces.npz``. It holds no model (``model_object`` is
None), so what needs the network (``export_nir``, running a backend again)
is for the run that made it.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError, NengoVisionError


def _read_json(path):
    """``results.json`` as a dict, or a one-line DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{path} not found: give the folder a run wrote its report to")
    try:
        results = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        reason = e.msg if isinstance(e, json.JSONDecodeError) else "not text"
        raise DataError(f"{path} is corrupt ({reason}); write the report again from "
                        f"the run, or run it again") from None
    if not isinstance(results, dict):
        raise DataError(f"{path} is corrupt (not a JSON object); write the report again "
                        f"from the run, or run it again")
    return results


def _read_arrays(path):
    """Every array of ``traces.npz``, or a one-line DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{path} not found: the report is incomplete; write it again "
                        f"from the run, or run it again")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path} is corrupt ({type(e).__name__}: {e}); write the report "
                        f"again from the run, or run it again") from None


def _older(path, missing):
    return DataError(f"{path} was written by an older version of nengo_vision: it has no "
                     f"{missing}; run it again to read it back")


def _backend_run(name, b, arrays, recording, dt):
    """The raw :class:`.BackendRun` of backend ``name`` (its :class:`.BackendResult` ``b``)."""
    from ..backends.base import BackendRun

    traces = arrays[name]
    n, n_steps = traces.shape[:2]
    prefix = f"{name}/spike_counts/"
    counts = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    # the rates as :class:`.backends.base.Collector` computes them from the counts
    seconds = n * n_steps * dt
    rates = {layer: float(c.sum() / (len(c) * seconds)) for layer, c in counts.items()}
    # traces.npz leaves out empty rasters: a rate backend (the ANN) held them
    # empty for every recorded layer; a spiking one without them (norse) held none
    rasters = {}
    for layer, idx in recording.raster.items():
        key = f"{name}/raster/{layer}"
        if key in arrays:
            rasters[layer] = arrays[key]
        elif not b.spiking:
            rasters[layer] = np.zeros((0, n_steps, len(idx)), np.uint8)
    prefix = f"{name}/step_counts/"
    steps = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return BackendRun(
        traces=traces, firing_rates=rates, seconds=b.seconds,
        placement=b.placement.to_dict() if b.placement is not None else {},
        spike_counts=counts, rasters=rasters, voltages=arrays.get(f"{name}/voltage"),
        spiking=b.spiking, peak_memory=int(round(b.peak_memory_mb * 2**20)),
        input_spikes=arrays.get(f"{name}/input_spikes"), step_counts=steps or None,
    )


def _backend_result(name, d, description):
    """A :class:`.BackendResult` from its entry in ``results.json`` (no run yet)."""
    from ..energy import EnergyAccount
    from ..result import BackendResult, Decision, Latency, Placement, TraceError

    return BackendResult(
        name=name, description=description, accuracy=d["accuracy"], n_test=d["n_test"],
        seconds=d["seconds"], peak_memory_mb=d["peak_memory_mb"], spiking=d["spiking"],
        accuracy_by_step=d["accuracy_by_step"], latency=Latency(**d["latency"]),
        readout=d["readout"], recall=d["recall"], precision=d["precision"], f1=d["f1"],
        confusion=d["confusion"], firing_rates=d["firing_rates"],
        trace_error=TraceError(**d["trace_error"]),
        decision=Decision(**d["decision"]) if "decision" in d else None,
        spikes_per_inference=d.get("spikes_per_inference"),
        synops_per_inference=d.get("synops_per_inference"),
        macs_per_inference=d.get("macs_per_inference"),
        energy=EnergyAccount.from_dict(d["energy"]) if "energy" in d else None,
        placement=Placement.from_dict(d["placement"]) if "placement" in d else None,
    )


def _config(path, results):
    from ..config import Config

    if "config" not in results:
        raise _older(path, '"config" entry (the settings the run ran with)')
    try:
        return Config.from_dict(results["config"])
    except NengoVisionError as e:
        raise DataError(f"{path}: its \"config\" entry does not fit this version ({e})") \
            from None


def load_result(folder):
    """Read the run whose report is in ``folder`` back into a :class:`.Result`.

    Parameters
    ----------
    folder : str or Path
        A folder :meth:`.Result.write` (or the command line) wrote.

    Returns
    -------
    Result
        Equal to the run's in every field its report reads: writing it again
        (:meth:`.Result.write`) gives the same report. ``model_object`` is None.
        Traces and voltages are the float32 copies ``traces.npz`` keeps;
        ``run.seconds`` and ``run.peak_memory`` are the report's rounded figures.

    Raises
    ------
    DataError
        ``results.json`` or ``traces.npz`` is missing or corrupt, or was written
        by an older version that did not keep what a run needs to be read back.
    """
    from ..backends.base import Recording
    from ..result import Comparison, Operations, Result

    folder = Path(folder)
    path = folder / "results.json"
    results = _read_json(path)
    config = _config(path, results)
    npz = folder / "traces.npz"
    arrays = _read_arrays(npz)
    if "images" not in arrays:
        raise _older(npz, "test images")
    try:
        rec = results["recording"]
        recording = Recording(
            n_digits=config.record_digits,
            raster={k: np.asarray(v, dtype=np.int64) for k, v in rec["raster_neurons"].items()},
            voltage=(rec["voltage_layer"], np.asarray(rec["voltage_neurons"], dtype=np.int64)),
        )
        backends = {name: _backend_result(name, d, results["descriptions"][name])
                    for name, d in results["backends"].items()}
        missing = [name for name in backends if name not in arrays]
        if missing:
            raise DataError(f"{npz} has no traces of {', '.join(missing)}; write the report "
                            f"again from the run, or run it again")
        for name, b in backends.items():
            b.run = _backend_run(name, b, arrays, recording, results["dt"])
        ops = results["operations"]
        comparison = Comparison(
            backends=backends, agreement=results["agreement"],
            shared_digits=results["shared_digits"], reference=results["reference"],
            readout_rules=results["readout_rules"],
            operations=Operations(ann_macs_per_inference=ops["ann_macs_per_inference"],
                                  synapses_out_of=ops["synapses_out_of"],
                                  not_counted=ops["not_counted"]),
            energy_sources=results["energy_sources"],
        )
        return Result(
            config=config, model=results["model"], model_source=results["model_source"],
            dataset=results["dataset"], training=results["training"],
            calibration=results["calibration"], neuron=results["neuron"],
            comparison=comparison, images=arrays["images"], labels=arrays["labels"],
            indices=arrays["indices"], recording=recording, dt=results["dt"],
            classes=tuple(results["classes"]), noise=results["noise"], date=results["date"],
            machine=results["machine"], plots=results["plots"], tables=results["tables"],
            # stage times: only runs of pipeline.run have them
            timings=results.get("timings", {}),
        )
    except KeyError as e:
        raise DataError(f"{path} is incomplete (no {e}); write the report again from the "
                        f"run, or run it again") from None


def rewrite_report(run, out=None):
    """Read the run in folder ``run`` back and write its report again, to ``out``
    (default: ``run`` itself, each file replaced atomically): what
    ``nengo-vision report RUN [--out DIR]`` does. Returns the folder written."""
    return load_result(run).write(Path(run) if out is None else out)
