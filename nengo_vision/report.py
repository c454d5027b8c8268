"""The report on disk: ``results.json``, ``traces.npz``, CSV tables, PNG plots and
``report.md``, every file written atomically."""

import csv
import io
import json

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._io import atomic_path, write_text  # noqa: E402
from .conversion import readout  # noqa: E402

COLORS = dict(zip(
    ["keras", "nengo-dl-rate", "nengo-dl", "nengo", "nengo-dl-loihi", "loihi-emulator", "loihi"],
    plt.cm.tab10(np.arange(7)),
))


def _color(name, i=0):
    return COLORS.get(name, plt.cm.tab10((i + 7) % 10))


def write_results(out_dir, results):
    """Write ``results.json``."""
    write_text(out_dir / "results.json", json.dumps(results, indent=2, sort_keys=False) + "\n")


def write_traces(out_dir, runs, labels, indices):
    """Write every backend's per-step output and recordings to ``traces.npz``.

    Keys: ``labels``, ``indices`` (test-set indices); per backend ``NAME``
    (unfiltered output, ``(N, n_steps, K)``, for the first ``N`` digits that
    backend ran), ``NAME/voltage`` and
    ``NAME/raster/LAYER`` where recorded (first digits only).
    """
    arrays = {name: run.traces.astype(np.float32) for name, run in runs.items()}
    for name, run in runs.items():
        if run.voltages is not None and len(run.voltages):
            arrays[f"{name}/voltage"] = run.voltages.astype(np.float32)
        for layer, raster in run.rasters.items():
            if len(raster):  # non-spiking backends record no spikes
                arrays[f"{name}/raster/{layer}"] = raster
    with atomic_path(out_dir / "traces.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, labels=labels, indices=indices, **arrays)


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _write_csv(path, header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buf.getvalue())


# ---------------------------------------------------------------- CSV tables


def _fmt(x, digits=6):
    return "" if x is None else round(x, digits) if isinstance(x, float) else x


def write_tables(out_dir, results):
    """Write the CSV tables; returns their file names."""
    backends = results["backends"]
    names = list(backends)
    files = []

    rows = []
    for name, s in backends.items():
        energy = s.get("energy", {}).get("total_joules")
        rows.append([
            name, s["spiking"], s["n_test"], _fmt(s["accuracy"]), _fmt(s["recall"]),
            _fmt(s["precision"]), _fmt(s["f1"]), _fmt(s["latency"]["mean_steps"], 3),
            _fmt(s["latency"]["median_steps"], 3), _fmt(s["latency"]["settled_fraction"]),
            s["seconds"], s["peak_memory_mb"],
            _fmt(sum(s["spikes_per_inference"].values()), 1) if s["spiking"] else "",
            _fmt(sum(s["synops_per_inference"].values()), 1) if s["spiking"] else "",
            sum(s["macs_per_inference"].values()) if "macs_per_inference" in s else "",
            _fmt(energy * 1e6 if energy is not None else None, 4),
        ])
    _write_csv(out_dir / "backends.csv", [
        "backend", "spiking", "digits", "accuracy", "macro_recall", "macro_precision",
        "macro_f1", "latency_mean_steps", "latency_median_steps", "settled_fraction",
        "seconds", "peak_memory_mb", "spikes_per_inference", "synops_per_inference",
        "macs_per_inference", "loihi_energy_uj_per_inference",
    ], rows)
    files.append("backends.csv")

    rows = []
    for name, s in backends.items():
        for layer, rate in s["firing_rates"].items():
            rows.append([
                name, layer, rate,
                _fmt(s.get("spikes_per_inference", {}).get(layer), 2),
                _fmt(s.get("synops_per_inference", {}).get(layer), 1),
            ])
    _write_csv(out_dir / "layers.csv",
               ["backend", "layer", "rate_hz", "spikes_per_inference", "synops_per_inference"],
               rows)
    files.append("layers.csv")

    macs = results["operations"]["ann_macs_per_inference"]
    _write_csv(out_dir / "ann_macs.csv", ["layer", "macs_per_inference"], list(macs.items()))
    files.append("ann_macs.csv")

    n_steps = len(backends[names[0]]["accuracy_by_step"])
    dt_ms = results["dt"] * 1000
    _write_csv(
        out_dir / "accuracy_by_step.csv", ["step", "time_ms"] + names,
        [[t + 1, round((t + 1) * dt_ms, 6)] + [backends[n]["accuracy_by_step"][t] for n in names]
         for t in range(n_steps)],
    )
    files.append("accuracy_by_step.csv")

    _write_csv(
        out_dir / "readout.csv", ["rule", "description"] + names,
        [[rule, desc] + [backends[n]["readout"][rule] for n in names]
         for rule, desc in results["readout_rules"].items()],
    )
    files.append("readout.csv")

    agree = results["agreement"]
    _write_csv(out_dir / "agreement.csv", ["backend"] + names,
               [[a] + [agree[a][b] for b in names] for a in names])
    files.append("agreement.csv")

    header, cols = ["step"], []
    for n in names:
        header += [f"{n}_nrmse", f"{n}_correlation"]
        cols += [backends[n]["trace_error"]["nrmse"], backends[n]["trace_error"]["correlation"]]
    _write_csv(out_dir / "trace_error.csv", header,
               [[t + 1] + [_fmt(c[t]) for c in cols] for t in range(n_steps)])
    files.append("trace_error.csv")

    rows = []
    for name, s in backends.items():
        for true, row in enumerate(s["confusion"]):
            rows += [[name, true, pred, count] for pred, count in enumerate(row)]
    _write_csv(out_dir / "confusion.csv", ["backend", "true", "predicted", "count"], rows)
    files.append("confusion.csv")

    rows = []
    per_op = results["energy_per_op_joules"]
    for name, s in backends.items():
        if "energy" in s:
            for term, count in s["energy"]["counts"].items():
                rows.append([name, term, round(count, 1), per_op[term], s["energy"]["joules"][term]])
        if "macs_per_inference" in s:
            total = sum(s["macs_per_inference"].values())
            rows.append([name, "mac_fp32", total, per_op["mac_fp32"], total * per_op["mac_fp32"]])
    _write_csv(out_dir / "energy.csv",
               ["backend", "operation", "count_per_inference", "joules_per_op",
                "joules_per_inference"], rows)
    files.append("energy.csv")
    return files


# ---------------------------------------------------------------- plots


def plot_traces(out_dir, runs, images, labels, synapse, dt, n_digits=3):
    """Filtered output of the first digits, every backend overlaid: the true
    class solid, the strongest other class dashed. Returns the file name."""
    n_digits = min(n_digits, len(labels))
    fig, axes = plt.subplots(
        n_digits, 2, figsize=(10, 2.8 * n_digits), squeeze=False, layout="constrained",
        gridspec_kw=dict(width_ratios=[1, 5]),
    )
    for row in range(n_digits):
        ax = axes[row, 0]
        ax.imshow(images[row].squeeze(), cmap="gray")
        ax.set_title(f"digit {row}, label {labels[row]}", fontsize=9)
        ax.axis("off")
        ax = axes[row, 1]
        for i, (name, run) in enumerate(runs.items()):
            trace = readout(run.traces[row : row + 1], synapse, dt)[0]
            t = np.arange(1, len(trace) + 1) * dt * 1000
            other = np.delete(trace, labels[row], axis=1)
            best_other = np.delete(np.arange(trace.shape[1]), labels[row])[other[-1].argmax()]
            says = trace[-1].argmax()
            ax.plot(t, trace[:, labels[row]], color=_color(name, i), lw=2,
                    label=f"{name} (says {says})")
            ax.plot(t, trace[:, best_other], color=_color(name, i), lw=1, ls="--")
        ax.set_ylabel("filtered output")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.set_title(f"solid: class {labels[row]} (true); dashed: the strongest other class",
                     fontsize=9)
    axes[-1, 1].set_xlabel("time (ms)")
    fig.suptitle("Output traces per backend (readout filter applied)")
    _save(fig, out_dir / "output_traces.png")
    return "output_traces.png"


def plot_accuracy(out_dir, summary):
    """Bar chart of final-step accuracy by backend. Returns the file name."""
    names = list(summary)
    acc = [summary[n]["accuracy"] * 100 for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.5), layout="constrained")
    bars = ax.bar(names, acc, color=[_color(n, i) for i, n in enumerate(names)])
    for bar, a in zip(bars, acc):
        ax.text(bar.get_x() + bar.get_width() / 2, a, f"{a:.2f}%", ha="center",
                va="bottom", fontsize=9)
    ax.set_ylim(max(0.0, min(acc) - 10), 100)
    ax.set_ylabel("accuracy (%)")
    counts = sorted({summary[n]["n_test"] for n in names})
    digits = f"{counts[0]:,} test digits" if len(counts) == 1 else "test digits as in the report"
    ax.set_title(f"Accuracy at the last step ({digits})")
    _save(fig, out_dir / "accuracy.png")
    return "accuracy.png"


def plot_accuracy_by_step(out_dir, summary, dt):
    """Accuracy of the default readout at every step. Returns the file name."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for i, (name, s) in enumerate(summary.items()):
        acc = np.array(s["accuracy_by_step"]) * 100
        ax.plot(np.arange(1, len(acc) + 1) * dt * 1000, acc, color=_color(name, i),
                label=f"{name} ({acc[-1]:.2f}% at the end)", lw=1.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Accuracy versus time (filtered output read at each step)")
    _save(fig, out_dir / "accuracy_by_step.png")
    return "accuracy_by_step.png"


def plot_rasters(out_dir, runs, dt, digit=0):
    """Spikes of the recorded random neurons of every layer, per spiking backend,
    for one digit. Returns the file name, or None if nothing spiked."""
    spiking = {n: r for n, r in runs.items() if r.rasters and len(next(iter(r.rasters.values())))}
    if not spiking:
        return None
    layers = list(next(iter(spiking.values())).rasters)
    fig, axes = plt.subplots(
        len(spiking), len(layers), figsize=(3.6 * len(layers), 2.4 * len(spiking)),
        squeeze=False, layout="constrained", sharex=True,
    )
    for row, (name, run) in enumerate(spiking.items()):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            raster = run.rasters[layer][digit]
            t, neuron = np.nonzero(raster)
            ax.scatter((t + 1) * dt * 1000, neuron, marker="|", s=25, color=_color(name, row))
            ax.set_ylim(-1, raster.shape[1])
            total = int(raster.sum())
            ax.set_title(f"{name}: {layer} ({total} spikes)", fontsize=9)
            if col == 0:
                ax.set_ylabel("neuron")
            if row == len(spiking) - 1:
                ax.set_xlabel("time (ms)")
    n = next(iter(spiking.values())).rasters[layers[0]].shape[2]
    fig.suptitle(f"Spike rasters of {n} random neurons per layer, digit {digit}")
    _save(fig, out_dir / "rasters.png")
    return "rasters.png"


def plot_voltages(out_dir, runs, voltage, dt, digit=0):
    """Membrane voltages of the chosen neurons, backends overlaid. Returns the
    file name, or None if no backend recorded voltages."""
    have = {n: r for n, r in runs.items() if r.voltages is not None and len(r.voltages)}
    if not have:
        return None
    layer, neurons = voltage
    fig, axes = plt.subplots(len(neurons), 1, figsize=(8, 1.9 * len(neurons)),
                             squeeze=False, layout="constrained", sharex=True)
    for j, neuron in enumerate(neurons):
        ax = axes[j, 0]
        for i, (name, run) in enumerate(have.items()):
            v = run.voltages[digit, :, j]
            # identical traces (NengoDL and Nengo) would hide each other
            ax.plot(np.arange(1, len(v) + 1) * dt * 1000, v, color=_color(name, i),
                    lw=1.4, label=name, ls=["-", "--", ":", "-."][i % 4], marker=".", ms=3)
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_ylabel(f"{layer}[{neuron}]")
    axes[0, 0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(f"Membrane voltage, digit {digit} (units of the firing threshold, "
                 f"dotted line; reset to 0 after a spike)")
    _save(fig, out_dir / "voltages.png")
    return "voltages.png"


def plot_confusion(out_dir, summary):
    """One confusion matrix per backend. Returns the file name."""
    names = list(summary)
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.8 * rows),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        m = np.array(summary[name]["confusion"])
        # the diagonal dwarfs the errors: show counts on a log scale
        ax.imshow(np.log1p(m), cmap="Blues")
        for (i, j), c in np.ndenumerate(m):
            if c:
                ax.text(j, i, str(c), ha="center", va="center", fontsize=6,
                        color="w" if i == j else "k")
        ax.set_title(f"{name}: {summary[name]['accuracy'] * 100:.2f}%", fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
    fig.suptitle("Confusion matrices (counts; colour on a log scale)")
    _save(fig, out_dir / "confusion.png")
    return "confusion.png"


def plot_agreement(out_dir, agreement):
    """Heat map of prediction agreement between backends. Returns the file name."""
    names = list(agreement)
    m = np.array([[agreement[a][b] * 100 for b in names] for a in names])
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2.5, 0.9 * len(names) + 1.8),
                           layout="constrained")
    low = min(90.0, m.min())
    image = ax.imshow(m, cmap="viridis", vmin=low, vmax=100)
    for (i, j), v in np.ndenumerate(m):
        # dark text on the bright (high-agreement) end of the colour map
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8,
                color="k" if v > (low + 100) / 2 else "w")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    fig.colorbar(image, ax=ax, label="same class (%)")
    ax.set_title("Prediction agreement (%)")
    _save(fig, out_dir / "agreement.png")
    return "agreement.png"


def plot_trace_error(out_dir, summary, reference, dt):
    """NRMSE and correlation of each backend's output against the reference, per
    step. Returns the file name."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for i, (name, s) in enumerate(summary.items()):
        if name == reference:
            continue
        nrmse = np.array([np.nan if v is None else v for v in s["trace_error"]["nrmse"]])
        corr = np.array([np.nan if v is None else v for v in s["trace_error"]["correlation"]])
        t = np.arange(1, len(nrmse) + 1) * dt * 1000
        ax1.plot(t, nrmse, color=_color(name, i), label=name)
        ax2.plot(t, corr, color=_color(name, i), label=name)
    ax1.set_ylabel("normalised RMSE")
    ax1.set_yscale("log")
    ax2.set_ylabel("correlation")
    for ax in (ax1, ax2):
        ax.set_xlabel("time (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Filtered output against {reference}, step by step")
    _save(fig, out_dir / "trace_error.png")
    return "trace_error.png"


def write_plots(out_dir, runs, results, images, labels, synapse, recording):
    """Draw every plot; returns their file names."""
    dt = results["dt"]
    summary = results["backends"]
    plots = [
        plot_traces(out_dir, runs, images, labels, synapse, dt),
        plot_accuracy(out_dir, summary),
        plot_accuracy_by_step(out_dir, summary, dt),
        plot_rasters(out_dir, runs, dt),
        plot_voltages(out_dir, runs, recording.voltage, dt),
        plot_confusion(out_dir, summary),
        plot_agreement(out_dir, results["agreement"]),
        plot_trace_error(out_dir, summary, results["reference"], dt),
    ]
    return [p for p in plots if p]


# ---------------------------------------------------------------- text


def table(summary):
    """A plain-text table of the results, one line per backend."""
    layers = list(dict.fromkeys(k for s in summary.values() for k in s["firing_rates"]))
    head = (f"{'backend':<16}{'accuracy':>10}{'F1':>7}{'latency':>9}{'digits':>8}"
            f"{'seconds':>10}{'peak MB':>9}")
    head += "".join(f"{l + ' Hz':>12}" for l in layers)
    lines = [head, "-" * len(head)]
    for name, s in summary.items():
        lat = s["latency"]["mean_steps"]
        line = (f"{name:<16}{s['accuracy'] * 100:>9.2f}%{s['f1']:>7.3f}"
                f"{'-' if lat is None else f'{lat:.1f}':>9}{s['n_test']:>8}"
                f"{s['seconds']:>10.1f}{s['peak_memory_mb']:>9.0f}")
        line += "".join(
            f"{s['firing_rates'][l]:>12.1f}" if l in s["firing_rates"] else f"{'-':>12}"
            for l in layers
        )
        lines.append(line)
    return "\n".join(lines)


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(x):
    return f"{x * 100:.2f} %"


def _num(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x)


def write_markdown(out_dir, results):
    """Write ``report.md``: every table and plot, with what each number means."""
    s_all = results["backends"]
    names = list(s_all)
    dt_ms = results["dt"] * 1000
    n_steps = results["n_steps"]
    ref = results["reference"]
    plots = set(results["plots"])
    out = [
        f"# Comparison report: `{results['model']}` on "
        f"{max((s['n_test'] for s in s_all.values()), default=0):,} MNIST test digits",
        "",
        f"{_digits_sentence(s_all, results['test_indices'])} Each digit is held for "
        f"{n_steps} steps of "
        f"{dt_ms:g} ms. Model trained for {_plural(results['training']['epochs'], 'epoch')} "
        f"through the rate curve of the `{results['neuron']['type']}` neuron. "
        f"Unless said otherwise, a backend's class is read from its output "
        f"filtered by a {_tau(results['output_synapse'])} lowpass, at the last step. "
        f"Run on {results['date']} ({results['machine']}).",
        "",
        "Backends: " + "; ".join(f"**{n}**: {d}" for n, d in results["descriptions"].items()) + ".",
        "",
        "## Accuracy, latency, cost",
        "",
        _md_table(
            ["backend", "digits", "accuracy ± s.e.", "macro recall", "macro F1",
             "latency (steps)", "settled", "wall time", "digits/s", "peak memory"],
            [[n, f"{s['n_test']:,}", f"{s['accuracy'] * 100:.2f} ± {_stderr(s) * 100:.2f} %",
              f"{s['recall']:.4f}",
              f"{s['f1']:.4f}",
              _num(s["latency"]["mean_steps"], "{:.2f}"),
              _pct(s["latency"]["settled_fraction"]), f"{s['seconds']:.1f} s",
              f"{s['n_test'] / max(s['seconds'], 1e-9):.1f}", f"{s['peak_memory_mb']:.0f} MB"]
             for n, s in s_all.items()],
        ),
        "",
        "- **Latency**: the first step from which a digit's class is right and stays "
        "right to the last step, averaged over the digits that end right "
        "(**settled**: the fraction that do). The ANN's output is the same at every "
        "step and the filter scales all classes alike, so its latency is 1.",
        "- The emulator (and the chip) pass spikes between host and chip with a "
        "one-step delay each way, so their outputs lag the other spiking backends "
        "by about one step, which shows in latency and in the trace error.",
        "- **s.e.**: the standard error of an accuracy measured on this many digits, "
        "sqrt(p (1 - p) / n); differences smaller than about twice it are noise.",
        "- **Wall time** includes building the simulator; **peak memory** is the "
        "process's peak resident memory while that backend ran (it includes "
        "everything loaded before, e.g. TensorFlow).",
        "",
    ]
    for p, caption in [
        ("accuracy_by_step.png", "Accuracy versus time: the default readout applied at every step."),
        ("accuracy.png", "Accuracy at the last step."),
    ]:
        if p in plots:
            out += [f"![{caption}]({p})", "", f"*{caption}*", ""]

    rules = results["readout_rules"]
    out += [
        "## Readout rules",
        "",
        "The same output traces, read seven ways (accuracy):",
        "",
        _md_table(["rule"] + names + ["what it is"],
                  [[f"`{r}`"] + [_pct(s_all[n]["readout"][r]) for n in names] + [d]
                   for r, d in rules.items()]),
        "",
        "The weighted rules weigh each step by the readout filter's response to a "
        "constant input (what a steady-state target looks like through the filter), "
        "our analogue of the training pattern that seeds/001 weighs by.",
        "",
        "## Agreement between backends",
        "",
        "Fraction of digits on which two backends choose the same class (%), over "
        "the digits both ran (the first of the smaller count):",
        "",
        _md_table([""] + names, [[a] + [f"{results['agreement'][a][b] * 100:.2f}"
                                        for b in names] for a in names]),
        "",
    ]
    if "agreement.png" in plots:
        out += ["![agreement](agreement.png)", ""]
    rows = []
    for n in names:
        te = s_all[n]["trace_error"]
        rows.append([n, _num(te["nrmse"][-1], "{:.4f}"), _num(te["correlation"][-1], "{:.4f}"),
                     _num(_mean(te["nrmse"]), "{:.4f}"), _num(_mean(te["correlation"]), "{:.4f}")])
    out += [
        f"### Output traces against `{ref}`",
        "",
        f"Each backend's filtered output compared with `{ref}`'s, over the digits "
        f"both ran and all classes, step by step: normalised RMSE (RMS of the difference over the "
        f"RMS of `{ref}`'s output; 0 = identical) and Pearson correlation.",
        "",
        _md_table(["backend", "NRMSE last step", "correlation last step",
                   "NRMSE mean over steps", "correlation mean over steps"], rows),
        "",
    ]
    if "trace_error.png" in plots:
        out += ["![trace error](trace_error.png)", ""]
    if "output_traces.png" in plots:
        out += ["![output traces](output_traces.png)", "",
                "*The first digits' filtered output, every backend overlaid.*", ""]

    layers = list(dict.fromkeys(k for s in s_all.values() for k in s["firing_rates"]))
    rows = []
    for n, s in s_all.items():
        for layer in layers:
            rows.append([
                n, layer, _num(s["firing_rates"].get(layer), "{:.1f}"),
                _num(s.get("spikes_per_inference", {}).get(layer)),
                _num(s.get("synops_per_inference", {}).get(layer)),
            ])
    ops = results["operations"]
    out += [
        "## Activity per layer",
        "",
        "Mean firing rate over neurons, steps and digits (for the ANN and the rate "
        "network: the rates their activations stand for); spikes and synaptic "
        "operations (a spike times the synapses it drives) per inference "
        f"({n_steps} steps), spiking backends only.",
        "",
        _md_table(["backend", "layer", "rate (Hz)", "spikes / inference",
                   "synaptic ops / inference"], rows),
        "",
        "The ANN's multiply-accumulates per image: "
        + ", ".join(f"{k} {v:,}" for k, v in ops["ann_macs_per_inference"].items())
        + f" (total {ops['ann_macs_total']:,}).",
        "",
    ]
    placed = [(n, s["placement"]) for n, s in s_all.items() if "placement" in s]
    if placed:
        name, placement = placed[0]
        rows = [[layer, p["where"], f"{p['neurons']:,}", p.get("cores", "—"),
                 "×".join(map(str, p["block_shape"])) if "block_shape" in p else "—"]
                for layer, p in placement.items() if layer != "totals"]
        totals = placement["totals"]
        out += [
            f"Where `{name}` ran each layer (the host runs the input layer, which turns "
            "pixels into spikes; the chip runs the rest):",
            "",
            _md_table(["layer", "where", "neurons", "cores", "block shape"], rows),
            "",
            f"{totals['cores']} of one chip's {totals['cores_per_chip']} cores.",
            "",
        ]
    if ops["not_counted"]:
        out += ["Not counted: " + "; ".join(ops["not_counted"].values()) + ".", ""]
    for p, caption in [
        ("rasters.png", "Spike rasters of 50 random neurons per layer (the same neurons "
         "in every backend), first digit."),
        ("voltages.png", "Membrane voltages of a few neurons of the last neuron layer "
         "(chosen with middling ANN rates), first digit, in units of the firing "
         "threshold. Loihi's integer "
         "voltages are divided by each compartment's integer threshold."),
    ]:
        if p in plots:
            out += [f"![{caption}]({p})", "", f"*{caption}*", ""]

    per_op = results["energy_per_op_joules"]
    energy_rows = []
    for n, s in s_all.items():
        if "energy" in s:
            e = s["energy"]
            energy_rows.append([
                n, f"{e['counts']['synaptic_op']:,.0f}", f"{e['counts']['neuron_update']:,.0f}",
                f"{e['counts']['spike']:,.0f}", f"{e['total_joules'] * 1e6:.3f} µJ",
            ])
    macs_total = ops["ann_macs_total"]
    out += [
        "## Energy estimate",
        "",
        "Dynamic energy per inference of the on-chip part of the network, from the "
        "spikes counted here times published Loihi per-operation energies: "
        f"{per_op['synaptic_op'] * 1e12:g} pJ per synaptic operation, "
        f"{per_op['neuron_update'] * 1e12:g} pJ per neuron update (every on-chip "
        f"neuron, every step, at the active-neuron figure: an upper bound) and "
        f"{per_op['spike'] * 1e12:g} pJ per spike (one hop between tiles; a spike "
        f"sent to several cores makes more) — {results['energy_sources']['loihi']}. "
        "Not included: static "
        "power, the host (the input layer and the output layer run there) and the "
        "host-chip link. An estimate, not a measurement.",
        "",
    ]
    if energy_rows:
        out += [_md_table(["backend", "synaptic ops", "neuron updates", "spikes",
                           "energy / inference"], energy_rows), ""]
    else:
        out += ["(No Loihi backend ran, so there is no estimate.)", ""]
    out += [
        f"For comparison, the ANN's {macs_total:,} multiply-accumulates per image "
        f"at {per_op['mac_fp32'] * 1e12:g} pJ each (32-bit float arithmetic only, no "
        f"memory access) are {macs_total * per_op['mac_fp32'] * 1e6:.3f} µJ — "
        f"{results['energy_sources']['mac']}. The two figures come from different "
        "chips and processes (Loihi: 14 nm; the MAC figure: 45 nm) and count "
        "different things; they show orders of magnitude, not a winner.",
        "",
        "## Confusion matrices",
        "",
    ]
    if "confusion.png" in plots:
        out += ["![confusion matrices](confusion.png)", ""]
    out += [
        "Row: the true class; column: the predicted one. Counts per backend are in "
        "`confusion.csv`.",
        "",
        "## Files",
        "",
        "`results.json` (everything above, and the settings), `traces.npz` (every "
        "backend's unfiltered output per step, recorded spikes and voltages), "
        "`backends.csv`, `layers.csv`, `ann_macs.csv`, `accuracy_by_step.csv`, "
        "`readout.csv`, `agreement.csv`, `trace_error.csv`, `confusion.csv`, "
        "`energy.csv`, and the plots above.",
        "",
    ]
    write_text(out_dir / "report.md", "\n".join(out))
    return "report.md"


def _digits_sentence(s_all, indices):
    """Which backend ran on how many of the test digits."""
    counts = {}
    for name, s in s_all.items():
        counts.setdefault(s["n_test"], []).append(f"`{name}`")
    if len(counts) == 1:
        return f"Every backend ran the same {next(iter(counts)):,} digits ({indices})."
    parts = [f"{', '.join(names)} on the first {n:,}"
             for n, names in sorted(counts.items(), reverse=True)]
    return (f"The backends ran on the test digits ({indices}): " + "; ".join(parts)
            + ". Comparisons between two backends use the digits both ran.")


def _stderr(s):
    p = s["accuracy"]
    return float(np.sqrt(p * (1 - p) / s["n_test"]))


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _tau(tau):
    return "no" if tau is None else f"{tau * 1000:g} ms"


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None
