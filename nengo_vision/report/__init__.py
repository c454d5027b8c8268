"""The report on disk: ``results.json``, ``traces.npz``, CSV tables, PNG plots and
``report.md``, each file written atomically (to a temporary file, then renamed).

:func:`write_report` writes them all from a :class:`.Result`; the modules here
each write one kind: :mod:`.tables`, :mod:`.plots` (which also draw on a given
``Axes``, for notebooks), :mod:`.markdown`, :mod:`.text` (the terminal table).
"""

import json
from pathlib import Path

import numpy as np

from .._io import atomic_path, write_text


def write_traces(out_dir, result):
    """Write every backend's per-step output and recordings to ``traces.npz``.

    Keys: ``labels``, ``indices`` (test-set indices); per backend ``NAME``
    (unfiltered output, ``(N, n_steps, K)``, for the first ``N`` digits that
    backend ran), ``NAME/voltage`` and ``NAME/raster/LAYER`` where recorded
    (first digits only).
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
    with atomic_path(out_dir / "traces.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, labels=result.labels, indices=result.indices, **arrays)


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
    result.plots = write_plots(out, result)
    result.tables = write_tables(out, result)
    write_text(out / "results.json", json.dumps(result.to_dict(), indent=2) + "\n")
    write_markdown(out, result)
    return out
