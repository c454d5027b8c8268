"""The report on disk: ``results.json``, ``traces.npz``, CSV tables, PNG plots and
``report.md``, each file written atomically (to a temporary file, then renamed).

:func:`write_report` writes them all from a :class:`.Result`; the modules here
each write one kind: :mod:`.tables`, :mod:`.plots` (which also draw on a given
``Axes``, for notebooks), :mod:`.markdown`, :mod:`.text` (the terminal table).
:mod:`.load` reads a written folder back into a :class:`.Result` (and writes its
report again); :mod:`.compare` sets two runs side by side.
"""

import json
from pathlib import Path

import numpy as np

from .._io import atomic_path, write_text


def write_traces(out_dir, result):
    """Write the test inputs and every backend's per-step output and recordings to
    ``traces.npz``: everything of a run that ``results.json`` does not hold, so
    that :func:`.load.load_result` can read the run back.

    Keys: ``labels``, ``indices`` (test-set indices), ``images`` (the test
    inputs the backends ran, as they ran them: after the input filter); per
    backend ``NAME`` (unfiltered output, ``(N, n_steps, K)``, for the first
    ``N`` digits that backend ran), ``NAME/voltage`` and ``NAME/raster/LAYER``
    where recorded (first digits only), ``NAME/spike_counts/LAYER`` (spikes per
    neuron summed over all digits), ``NAME/input_spikes`` where the input was
    spikes, and ``NAME/step_counts/TALLY`` where the batched engine counted the
    chip's work (per digit and step; :attr:`.BackendRun.step_counts`).
    """
    arrays = {}
    for name, b in result.backends.items():
        run = b.run
        arrays[name] = run.traces.astype(np.float32)
        if run.voltages is not None and len(run.voltages):
            arrays[f"{name}/voltage"] = run.voltages.astype(np.float32)
        for layer, raster in run.rasters.items():
            if len(raster):  # non-spiking backends record no spikes
                arrays[f"{name}/raster/{layer}"] = raster
        # as the run holds them (float64 sums), so that a loaded run's are equal
        for layer, counts in run.spike_counts.items():
            arrays[f"{name}/spike_counts/{layer}"] = np.asarray(counts)
        if run.input_spikes is not None:
            arrays[f"{name}/input_spikes"] = np.asarray(run.input_spikes)
        for tally, counts in (run.step_counts or {}).items():
            arrays[f"{name}/step_counts/{tally}"] = np.asarray(counts)
    with atomic_path(out_dir / "traces.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, labels=result.labels, indices=result.indices,
                                images=np.asarray(result.images), **arrays)


def as_stored(result):
    """``result`` with every run's traces and voltages as ``traces.npz`` stores
    them (float32; the rest is shared, not copied).

    The plots are drawn from these, so that they are a function of the folder
    alone: a run read back (:func:`.load.load_result`) draws them byte for byte
    the same. (Drawn from the float64 traces instead, a line of a plot can move
    by 1/256 of a pixel, and two pixels of 1.5 million differ.)
    """
    from dataclasses import replace

    def stored(array):
        return None if array is None else np.asarray(array).astype(np.float32, copy=False)

    backends = {
        name: replace(b, run=replace(b.run, traces=stored(b.run.traces),
                                     voltages=stored(b.run.voltages)))
        for name, b in result.backends.items()
    }
    return replace(result, comparison=replace(result.comparison, backends=backends))


def write_report(result, out):
    """Write the whole report of ``result`` to folder ``out`` (created if need be).

    Returns
    -------
    Path
        The folder.
    """
    from .markdown import write_markdown
    from .plots import write_plots
    from .tables import write_tables

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_traces(out, result)
    result.plots = write_plots(out, as_stored(result))
    result.tables = write_tables(out, result)
    write_text(out / "results.json", json.dumps(result.to_dict(), indent=2) + "\n")
    write_markdown(out, result)
    return out
