"""``report.md``: every table and plot of a :class:`.Result`, with what each number
means. One function per section, each returning its lines."""

import numpy as np

from .._io import write_text
from ..metrics import REFERENCES
from .tables import layer_rows


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(x):
    return f"{x * 100:.2f} %"


def _num(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x)


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _tau(tau):
    return "no" if tau is None else f"{tau * 1000:g} ms"


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _figure(plots, file, caption):
    return [f"![{caption}]({file})", "", f"*{caption}*", ""] if file in plots else []


def digits_sentence(result):
    """Which backend ran on how many of the test digits."""
    counts = {}
    for name, b in result.backends.items():
        counts.setdefault(b.n_test, []).append(f"`{name}`")
    if len(counts) == 1:
        return (f"Every backend ran the same {next(iter(counts)):,} {result.item}s "
                f"({result.test_indices}).")
    parts = [f"{', '.join(names)} on the first {n:,}"
             for n, names in sorted(counts.items(), reverse=True)]
    return (f"The backends ran on the test {result.item}s ({result.test_indices}): "
            + "; ".join(parts) + ". Comparisons between two backends use the digits both ran.")


def presentation_sentence(result):
    """How the backends received each test sample: held, coded as spikes, or streamed."""
    from ..datasets import get_dataset
    from ..encodings import get_encoding

    c, dataset = result.config, get_dataset(result.dataset)
    steps = f"{c.n_steps} steps of {result.dt * 1000:g} ms"
    if dataset.n_steps:
        text = (f"Each {dataset.item}'s events are streamed over {steps}, each event a "
                f"spike into the first layer (on Loihi straight onto the chip, with no "
                f"encoder on the host); the ANN sees the recording collapsed to a frame")
    elif get_encoding(c.encoding).spiking:
        text = (f"Each {dataset.item} is sent as `{c.encoding}`-coded spikes (a full pixel "
                f"at {c.input_rate:g} Hz) for {steps}, on Loihi straight onto the chip's "
                f"first layer; the ANN sees the image")
    else:
        text = f"Each {dataset.item} is held for {steps}"
    if c.input_synapse is not None:
        text += f", through a {_tau(c.input_synapse)} lowpass on the input"
    return text + "."


def header(result):
    c = result.config
    most = max((b.n_test for b in result.backends.values()), default=0)
    if c.readout == "integrate":
        rule = "its unfiltered output summed from the first step"
    else:
        rule = f"its output filtered by a {_tau(c.output_synapse)} lowpass, at the last step"
    if result.training.get("pretrained"):
        trained = (f"Model: {result.training['pretrained']}, run as it is (not trained "
                   f"here; its neurons' parameters are the graph's); the backends are "
                   f"compared with **{result.comparison.reference}**, a spiking backend, "
                   f"as a graph has no ANN it came from.")
    else:
        trained = (f"Model trained for {_plural(result.training['epochs'], 'epoch')} "
                   f"through the rate curve of the `{result.neuron['type']}` neuron.")
    return [
        f"# Comparison report: `{result.model}` on {most:,} {result.dataset.upper()} test "
        f"{result.item}s",
        "",
        f"{digits_sentence(result)} {presentation_sentence(result)} {trained} "
        f"Unless said otherwise, a backend's class is read from {rule}. "
        f"Run on {result.date} ({result.machine}).",
        "",
        "Backends: " + "; ".join(f"**{n}**: {b.description}"
                                 for n, b in result.backends.items()) + ".",
        "",
    ]


def accuracy_section(result, plots):
    rows = [
        [n, f"{b.n_test:,}", f"{b.accuracy * 100:.2f} ± {b.stderr * 100:.2f} %",
         f"{b.recall:.4f}", f"{b.f1:.4f}", _num(b.latency.mean_steps, "{:.2f}"),
         _pct(b.latency.settled_fraction), f"{b.seconds:.1f} s",
         f"{b.digits_per_second:.1f}", f"{b.peak_memory_mb:.0f} MB"]
        for n, b in result.backends.items()
    ]
    return [
        "## Accuracy, latency, cost",
        "",
        _md_table(["backend", "digits", "accuracy ± s.e.", "macro recall", "macro F1",
                   "latency (steps)", "settled", "wall time", "digits/s", "peak memory"], rows),
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
        *_figure(plots, "accuracy_by_step.png",
                 "Accuracy versus time: the default readout applied at every step."),
        *_figure(plots, "accuracy.png", "Accuracy at the last step."),
    ]


def readout_section(result):
    names = list(result.backends)
    rules = result.comparison.readout_rules
    return [
        "## Readout rules",
        "",
        "The same output traces, read seven ways (accuracy):",
        "",
        _md_table(["rule"] + names + ["what it is"],
                  [[f"`{r}`"] + [_pct(result.backends[n].readout[r]) for n in names] + [d]
                   for r, d in rules.items()]),
        "",
        "The weighted rules weigh each step by the readout filter's response to a "
        "constant input (what a steady-state target looks like through the filter), "
        "our analogue of the training pattern that Cohen et al. (2016) weigh by.",
        "",
    ]


def agreement_section(result, plots):
    names = list(result.backends)
    agree = result.comparison.agreement
    ref = result.comparison.reference
    rows = []
    for n, b in result.backends.items():
        te = b.trace_error
        rows.append([n, _num(te.nrmse[-1], "{:.4f}"), _num(te.correlation[-1], "{:.4f}"),
                     _num(_mean(te.nrmse), "{:.4f}"), _num(_mean(te.correlation), "{:.4f}")])
    out = [
        "## Agreement between backends",
        "",
        "Fraction of digits on which two backends choose the same class (%), over "
        "the digits both ran (the first of the smaller count):",
        "",
        _md_table([""] + names, [[a] + [f"{agree[a][b] * 100:.2f}" for b in names]
                                 for a in names]),
        "",
    ]
    if "agreement.png" in plots:
        out += ["![agreement](agreement.png)", ""]
    out += [
        f"### Output traces against `{ref}`",
        "",
        f"Each backend's filtered output compared with `{ref}`'s, over the digits "
        f"both ran and all classes, step by step: normalised RMSE (RMS of the difference "
        f"over the RMS of `{ref}`'s output; 0 = identical) and Pearson correlation.",
        "",
        _md_table(["backend", "NRMSE last step", "correlation last step",
                   "NRMSE mean over steps", "correlation mean over steps"], rows),
        "",
    ]
    if "trace_error.png" in plots:
        out += ["![trace error](trace_error.png)", ""]
    out += _figure(plots, "output_traces.png",
                   "The first digits' filtered output, every backend overlaid.")
    return out


def activity_section(result, plots):
    ops = result.comparison.operations
    rows = [[n, layer, _num(rate, "{:.1f}"), _num(spikes), _num(synops)]
            for n, layer, rate, spikes, synops in layer_rows(result)]
    out = [
        "## Activity per layer",
        "",
        "Mean firing rate over neurons, steps and digits (for the ANN and the rate "
        "network: the rates their activations stand for); spikes and synaptic "
        "operations (a spike times the synapses it drives) per inference "
        f"({result.config.n_steps} steps), spiking backends only.",
        "",
        _md_table(["backend", "layer", "rate (Hz)", "spikes / inference",
                   "synaptic ops / inference"], rows),
        "",
        "The ANN's multiply-accumulates per image: "
        + ", ".join(f"{k} {v:,}" for k, v in ops.ann_macs_per_inference.items())
        + f" (total {ops.ann_macs_total:,}).",
        "",
    ]
    placed = [(n, b.placement) for n, b in result.backends.items() if b.placement is not None]
    if placed:
        name, placement = placed[0]
        rows = [[layer, p.where, f"{p.neurons:,}", _num(p.cores, "{}"),
                 "×".join(map(str, p.block_shape)) if p.block_shape else "—"]
                for layer, p in placement.layers.items()]
        out += [
            f"Where `{name}` ran each layer (the host runs the input layer, which turns "
            "pixels into spikes; the chip runs the rest):",
            "",
            _md_table(["layer", "where", "neurons", "cores", "block shape"], rows),
            "",
            _chips_line(placement.totals),
            "",
        ]
    if ops.not_counted:
        out += ["Not counted: " + "; ".join(ops.not_counted.values()) + ".", ""]
    out += _figure(plots, "rasters.png",
                   "Spike rasters of 50 random neurons per layer (the same neurons in "
                   "every backend), first digit.")
    out += _figure(plots, "voltages.png",
                   "Membrane voltages of a few neurons of the last neuron layer (chosen "
                   "with middling ANN rates), first digit, in units of the firing "
                   "threshold. Loihi's integer voltages are divided by each "
                   "compartment's integer threshold.")
    return out


def _chips_line(totals):
    """The cores the network takes: of one chip, or per chip and what crosses them."""
    chips, per_chip = totals.get("chips", 1), totals["cores_per_chip"]
    if chips == 1:
        return f"{totals['cores']} of one chip's {per_chip} cores."
    cores = ", ".join(f"{n}" for n in totals["chip_cores"])
    return (
        f"{totals['cores']} cores on {chips} chips of {per_chip} cores each "
        f"(chip by chip: {cores}; given by nengo-loihi's greedy allocator); "
        f"{100 * totals['interchip_fraction']:.1f} % of the axons between cores cross "
        f"from one chip to another."
    )


def _uj(joules):
    return "—" if joules is None else f"{joules * 1e6:,.3f} µJ"


def cost_section(result):
    """What an inference costs on each backend, beside the ANN's arithmetic and
    what chips have measured."""
    from ..energy import ANCHORS

    margin = result.config.decision_margin
    rows = []
    for name, b in result.backends.items():
        e, d = b.energy, b.decision
        rows.append([
            f"`{name}`", _pct(d.accuracy), f"{d.mean_steps:.2f}" if b.spiking else "—",
            _uj(e.joules("chip")) if e and b.spiking else "—",
            _uj(e.joules("link")) if e and b.spiking else "—",
            _uj(e.joules("host")) if e else "—", _uj(e.total_joules) if e else "—",
        ])
    out = [
        "## Cost: accuracy, steps and energy per inference",
        "",
        ("Each sample stopped at the first step at which its readout's leading class "
         f"was {margin:g} ahead of the next (`--decision-margin`); its class was read "
         "there and its steps and energy counted to there."
         if margin is not None else
         "Every sample ran every step (no `--decision-margin`).")
        + " Energy: every operation of an inference times a published energy per "
        "operation (below); the ANN's row is its arithmetic alone.",
        "",
        _md_table(["backend", "accuracy", "steps", "chip", "link", "host", "total"], rows),
        "",
        "What chips have measured on MNIST (per inference; other networks and codes, "
        "for scale): "
        + "; ".join(f"{chip} {acc * 100:.1f} % at {j * 1e6:g} µJ ({src})"
                    for chip, acc, j, src in ANCHORS) + ".",
        "",
    ]
    for name, b in result.backends.items():
        if b.energy is None or not b.spiking:
            continue
        terms = [[t.name, t.where, f"{t.count:,.0f}", f"{t.joules_per_op * 1e12:g} pJ",
                  _uj(t.joules)] for t in b.energy.terms]
        out += [
            f"Every term of `{name}`'s energy per inference:",
            "",
            _md_table(["term", "where", "count", "energy per op", "energy"], terms),
            "",
        ]
        out += [f"- `{t.name}`: {t.what}." for t in b.energy.terms] + [""]
        break  # the terms mean the same for every chip backend
    sources = result.comparison.energy_sources
    out += [
        f"Sources: Loihi's figures, {sources['loihi']}; the host's and the ANN's, "
        f"{sources['mac']}. Not charged: static power, the host-chip link itself (no "
        "published figure; its spikes are counted and charged as chip messages), the "
        "event camera. The two sources come from different processes (Loihi: 14 nm; "
        "the float figures: 45 nm). An estimate, not a measurement.",
        "",
    ]
    return out


def _noise_section(result, plots):
    """Accuracy of every backend on the test inputs with each noise."""
    names = list(result.backends)
    rows = [["none"] + [_pct(result.backends[n].accuracy) for n in names]]
    rows += [[label] + [_pct(per[n]["accuracy"]) if n in per else "-" for n in names]
             for label, per in result.noise.items()]
    out = ["## Accuracy against noise", "",
           "The same test inputs with noise added (seeded per sample; noisy pixels "
           "clipped to 0-1, then the input filter if any), each backend on as many "
           "samples as in the clean run.", ""]
    if "noise.png" in plots:
        out += ["![accuracy against noise](noise.png)", ""]
    return out + [_md_table(["noise"] + names, rows), ""]


def closing_sections(result, plots):
    out = ["## Confusion matrices", ""]
    if "confusion.png" in plots:
        out += ["![confusion matrices](confusion.png)", ""]
    out += [
        "Row: the true class; column: the predicted one. Counts per backend are in "
        "`confusion.csv`.",
        "",
    ]
    if "class_outputs.png" in plots:
        out += ["## The output neurons, one sample per class", "",
                "![output neurons per class](class_outputs.png)", "",
                "Each output neuron of the spiking network over time, filtered, for the "
                "first test sample of each class (seed 002's Fig. 6); the title says "
                "what the network read.", ""]
    if result.noise:
        out += _noise_section(result, plots)
    out += [
        "## Files",
        "",
        "`results.json` (everything above, and the settings), `traces.npz` (the "
        "test inputs, every backend's unfiltered output per step, spike counts, "
        "recorded spikes and voltages, the emulated chip's work per step), "
        + ", ".join(f"`{t}`" for t in result.tables) + ", and the plots above. "
        "`nengo_vision.Result.load(folder)` reads the run back from the first two.",
        "",
        "## References",
        "",
    ]
    out += [f"- {key}: {text}." for key, text in REFERENCES.items()]
    sources = result.comparison.energy_sources
    out += [f"- Loihi's energy per operation: {sources['loihi']}.",
            f"- The energy of a float MAC: {sources['mac']}."]
    return out + [""]


def write_markdown(out_dir, result):
    """Write ``report.md``; returns its file name."""
    plots = set(result.plots)
    lines = (header(result) + accuracy_section(result, plots) + readout_section(result)
             + agreement_section(result, plots) + activity_section(result, plots)
             + cost_section(result) + closing_sections(result, plots))
    write_text(out_dir / "report.md", "\n".join(lines))
    return "report.md"
