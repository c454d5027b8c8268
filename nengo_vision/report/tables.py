"""The report's CSV tables, and the rows the Markdown report shares with them."""

import csv
import io

from .._io import write_text


def _fmt(x, digits=6):
    return "" if x is None else round(x, digits) if isinstance(x, float) else x


def _write_csv(path, header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def layer_rows(result):
    """Per backend and neuron layer: rate (Hz), spikes and synaptic operations per
    inference (None where the backend has none)."""
    rows = []
    for name, b in result.backends.items():
        for layer, rate in b.firing_rates.items():
            rows.append([
                name, layer, rate,
                (b.spikes_per_inference or {}).get(layer),
                (b.synops_per_inference or {}).get(layer),
            ])
    return rows


def energy_rows(result):
    """Per backend and energy term: where, count and joules per inference, and
    joules per operation."""
    return [[name, t.name, t.where, t.count, t.joules_per_op, t.joules]
            for name, b in result.backends.items() if b.energy is not None
            for t in b.energy.terms]


def write_tables(out_dir, result):
    """Write the CSV tables; returns their file names."""
    backends = result.backends
    names = list(backends)
    tables = {}

    rows = []
    for name, b in backends.items():
        energy = b.energy.total_joules if b.energy is not None else None
        rows.append([
            name, b.spiking, b.n_test, _fmt(b.accuracy), _fmt(b.recall), _fmt(b.precision),
            _fmt(b.f1), _fmt(b.latency.mean_steps, 3), _fmt(b.latency.median_steps, 3),
            _fmt(b.latency.settled_fraction), b.seconds, b.peak_memory_mb,
            _fmt(sum(b.spikes_per_inference.values()), 1) if b.spiking else "",
            _fmt(sum(b.synops_per_inference.values()), 1) if b.spiking else "",
            sum(b.macs_per_inference.values()) if b.macs_per_inference is not None else "",
            _fmt(energy * 1e6 if energy is not None else None, 4),
            _fmt(b.decision.accuracy), _fmt(b.decision.mean_steps, 3),
        ])
    tables["backends.csv"] = ([
        "backend", "spiking", "digits", "accuracy", "macro_recall", "macro_precision",
        "macro_f1", "latency_mean_steps", "latency_median_steps", "settled_fraction",
        "seconds", "peak_memory_mb", "spikes_per_inference", "synops_per_inference",
        "macs_per_inference", "energy_uj_per_inference", "decision_accuracy",
        "decision_mean_steps",
    ], rows)

    tables["layers.csv"] = (
        ["backend", "layer", "rate_hz", "spikes_per_inference", "synops_per_inference"],
        [[n, layer, rate, _fmt(spikes, 2), _fmt(synops, 1)]
         for n, layer, rate, spikes, synops in layer_rows(result)],
    )
    tables["ann_macs.csv"] = (["layer", "macs_per_inference"],
                              list(result.comparison.operations.ann_macs_per_inference.items()))

    n_steps = len(backends[names[0]].accuracy_by_step)
    dt_ms = result.dt * 1000
    tables["accuracy_by_step.csv"] = (
        ["step", "time_ms"] + names,
        [[t + 1, round((t + 1) * dt_ms, 6)] + [backends[n].accuracy_by_step[t] for n in names]
         for t in range(n_steps)],
    )
    tables["readout.csv"] = (
        ["rule", "description"] + names,
        [[rule, desc] + [backends[n].readout[rule] for n in names]
         for rule, desc in result.comparison.readout_rules.items()],
    )
    agree = result.comparison.agreement
    tables["agreement.csv"] = (["backend"] + names,
                               [[a] + [agree[a][b] for b in names] for a in names])

    header, cols = ["step"], []
    for n in names:
        header += [f"{n}_nrmse", f"{n}_correlation"]
        cols += [backends[n].trace_error.nrmse, backends[n].trace_error.correlation]
    tables["trace_error.csv"] = (header,
                                 [[t + 1] + [_fmt(c[t]) for c in cols] for t in range(n_steps)])

    rows = []
    for name, b in backends.items():
        for true, row in enumerate(b.confusion):
            rows += [[name, true, result.class_name(true), pred, result.class_name(pred), count]
                     for pred, count in enumerate(row)]
    tables["confusion.csv"] = (["backend", "true", "true_name", "predicted", "predicted_name",
                                "count"], rows)
    if result.noise:
        tables["noise.csv"] = (
            ["noise", "kind", "level", "backend", "n_test", "accuracy"],
            [[label, *label.split(":"), name, r["n_test"], _fmt(r["accuracy"])]
             for label, per in result.noise.items() for name, r in per.items()],
        )

    tables["energy.csv"] = (
        ["backend", "term", "where", "count_per_inference", "joules_per_op",
         "joules_per_inference"],
        [[n, term, where, round(count, 1), per_op, joules]
         for n, term, where, count, per_op, joules in energy_rows(result)],
    )
    for file, (header, rows) in tables.items():
        _write_csv(out_dir / file, header, rows)
    return list(tables)
