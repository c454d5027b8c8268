"""Plots of a :class:`.Result`, each drawn on a matplotlib ``Axes`` it is given.

Single-panel plots take ``(ax, result, ...)``; plots made of several panels
(``*_figure``) take a ``Figure`` to lay them out on. The report's writer draws
them on figures of its own (no pyplot, so importing this module or writing a
report never changes matplotlib's backend); a notebook passes its own::

    fig, ax = plt.subplots()
    plots.accuracy_by_step(ax, result)
    plots.rasters_figure(plt.figure(figsize=(11, 7)), result)
"""

import matplotlib
import numpy as np

from ..metrics import readout

#: a fixed colour per known backend, so every plot and report agrees
BACKEND_ORDER = ("keras", "nengo-dl-rate", "nengo-dl", "nengo", "nengo-dl-loihi",
                 "loihi-emulator", "loihi", "nengo-loihi-emulator")
LINE_STYLES = ("-", "--", ":", "-.")


def color(name, i=0):
    """The colour of backend ``name`` (the i-th backend if it is not a known one)."""
    tab10 = matplotlib.colormaps["tab10"]
    if name in BACKEND_ORDER:
        return tab10(BACKEND_ORDER.index(name) % 10)
    return tab10((i + len(BACKEND_ORDER)) % 10)


def _ms(n, dt):
    return np.arange(1, n + 1) * dt * 1000


# ---------------------------------------------------------------- one Axes each


def digit_image(ax, result, digit=0):
    """The test image of ``digit``, titled with its label; for events (two
    polarity channels) its frame, ON minus OFF, red for ON."""
    image = np.asarray(result.images[digit])
    if image.ndim == 3 and image.shape[-1] == 2:
        diff = image[..., 1] - image[..., 0]
        top = float(np.abs(diff).max()) or 1.0
        ax.imshow(diff, cmap="RdBu_r", vmin=-top, vmax=top)
    else:
        ax.imshow(np.clip(image, 0, 1) if image.shape[-1] == 3 else image.squeeze(),
                  cmap=None if image.shape[-1] == 3 else "gray")
    ax.set_title(f"{result.item} {digit}, {result.class_name(result.labels[digit])}",
                 fontsize=9)
    ax.axis("off")


def output_traces(ax, result, digit=0, backends=None):
    """Filtered output of one digit, backends overlaid: the true class solid, the
    strongest other class dashed."""
    label = result.labels[digit]
    synapse, dt = result.output_filter, result.dt
    for i, (name, b) in enumerate(result.backends.items()):
        if (backends and name not in backends) or digit >= b.n_test:
            continue
        trace = readout(b.run.traces[digit : digit + 1], synapse, dt)[0]
        others = np.delete(np.arange(trace.shape[1]), label)
        best_other = others[trace[-1, others].argmax()]
        t = _ms(len(trace), dt)
        ax.plot(t, trace[:, label], color=color(name, i), lw=2,
                label=f"{name} (says {result.class_name(trace[-1].argmax())})")
        ax.plot(t, trace[:, best_other], color=color(name, i), lw=1, ls="--")
    ax.set_ylabel("filtered output")
    ax.set_xlabel("time (ms)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(f"solid: class {result.class_name(label)} (true); dashed: the strongest "
                 f"other class", fontsize=9)


def accuracy(ax, result):
    """Bar chart of each backend's accuracy at the last step."""
    names = list(result.backends)
    acc = [result.backends[n].accuracy * 100 for n in names]
    bars = ax.bar(names, acc, color=[color(n, i) for i, n in enumerate(names)])
    for bar, a in zip(bars, acc):
        ax.text(bar.get_x() + bar.get_width() / 2, a, f"{a:.2f}%", ha="center",
                va="bottom", fontsize=9)
    ax.set_ylim(max(0.0, min(acc) - 10), 100)
    ax.set_ylabel("accuracy (%)")
    counts = sorted({b.n_test for b in result.backends.values()})
    digits = (f"{counts[0]:,} test {result.item}s" if len(counts) == 1
              else f"test {result.item}s as in the report")
    ax.set_title(f"Accuracy at the last step ({digits})")


def accuracy_by_step(ax, result):
    """Accuracy of the default readout at every step, per backend."""
    for i, (name, b) in enumerate(result.backends.items()):
        acc = np.array(b.accuracy_by_step) * 100
        ax.plot(_ms(len(acc), result.dt), acc, color=color(name, i), lw=1.5,
                label=f"{name} ({acc[-1]:.2f}% at the end)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Accuracy versus time (filtered output read at each step)")


def raster(ax, result, backend, layer, digit=0, i=0):
    """Spikes of the recorded neurons of ``layer`` in ``backend``, one digit."""
    spikes = result.backends[backend].run.rasters[layer][digit]
    t, neuron = np.nonzero(spikes)
    ax.scatter((t + 1) * result.dt * 1000, neuron, marker="|", s=25, color=color(backend, i))
    ax.set_xlim(0, spikes.shape[0] * result.dt * 1000 + 1)
    ax.set_ylim(-1, spikes.shape[1])
    ax.set_title(f"{backend}: {layer} ({int(spikes.sum())} spikes)", fontsize=9)


def voltage(ax, result, neuron=0, digit=0):
    """Membrane voltage of the ``neuron``-th recorded neuron, backends overlaid,
    in units of the firing threshold (dotted line)."""
    layer, neurons = result.recording.voltage
    for i, (name, b) in enumerate(_with_voltages(result).items()):
        v = b.run.voltages[digit, :, neuron]
        # identical traces (NengoDL and Nengo) would hide each other
        ax.plot(_ms(len(v), result.dt), v, color=color(name, i), lw=1.4, label=name,
                ls=LINE_STYLES[i % 4], marker=".", ms=3)
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_ylabel(f"{layer}[{neurons[neuron]}]")


def confusion(ax, result, backend):
    """The confusion matrix of ``backend`` (counts; colour on a log scale)."""
    b = result.backends[backend]
    m = np.array(b.confusion)
    # the diagonal dwarfs the errors: show counts on a log scale
    ax.imshow(np.log1p(m), cmap="Blues")
    for (i, j), c in np.ndenumerate(m):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize=6,
                    color="w" if i == j else "k")
    ax.set_title(f"{backend}: {b.accuracy * 100:.2f}%", fontsize=9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    names = [result.class_name(c) for c in range(m.shape[0])]
    ax.set_xticks(range(m.shape[1]), names, rotation=90 if max(map(len, names)) > 2 else 0,
                  fontsize=7)
    ax.set_yticks(range(m.shape[0]), names, fontsize=7)


def class_outputs(ax, result, label, backend):
    """Every output neuron of ``backend`` over time, filtered, for the first test
    sample of class ``label`` (seed 002's Fig. 6): the class's own neuron should
    rise above the others. False where no test sample has that class."""
    where = np.flatnonzero(np.asarray(result.labels) == label)
    b = result.backends[backend]
    where = where[where < b.n_test]
    if not len(where):
        return False
    trace = readout(b.run.traces[where[0] : where[0] + 1], result.output_filter, result.dt)[0]
    t = _ms(len(trace), result.dt)
    for c in range(trace.shape[1]):
        ax.plot(t, trace[:, c], lw=2 if c == label else 1,
                label=result.class_name(c), color=f"C{c % 10}")
    said = result.class_name(trace[-1].argmax())
    ax.set_title(f"{result.item} {where[0]}: {result.class_name(label)}, read as {said}",
                 fontsize=9)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{backend} output")
    ax.legend(fontsize=6, loc="upper left")


def noise_curve(ax, result, kind):
    """Accuracy of every backend against the level of noise ``kind`` (level 0:
    the clean run). False where the run added no noise of that kind."""
    levels = sorted(float(label.split(":")[1]) for label in result.noise
                    if label.split(":")[0] == kind)
    if not levels:
        return False
    from ..noise import noise_label

    for i, (name, b) in enumerate(result.backends.items()):
        ys = [b.accuracy] + [result.noise[noise_label(kind, lv)][name]["accuracy"]
                             for lv in levels]
        ax.plot([0.0] + levels, [100 * y for y in ys], "o-", color=color(name, i), label=name)
    ax.set_xlabel(f"{kind} noise level")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy against {kind} noise", fontsize=9)
    ax.legend(fontsize=7)


def agreement(ax, result):
    """Heat map of how often two backends choose the same class (%). Returns the
    image, for a colour bar."""
    agree = result.comparison.agreement
    names = list(agree)
    m = np.array([[agree[a][b] * 100 for b in names] for a in names])
    low = min(90.0, m.min())
    image = ax.imshow(m, cmap="viridis", vmin=low, vmax=100)
    for (i, j), v in np.ndenumerate(m):
        # dark text on the bright (high-agreement) end of the colour map
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8,
                color="k" if v > (low + 100) / 2 else "w")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("Prediction agreement (%)")
    return image


def trace_error(ax, result, measure="nrmse"):
    """Each backend's filtered output against the reference's, per step:
    ``measure`` is ``"nrmse"`` (log scale) or ``"correlation"``."""
    reference = result.comparison.reference
    for i, (name, b) in enumerate(result.backends.items()):
        if name == reference:
            continue
        values = np.array([np.nan if v is None else v for v in getattr(b.trace_error, measure)])
        ax.plot(_ms(len(values), result.dt), values, color=color(name, i), label=name)
    if measure == "nrmse":
        ax.set_ylabel("normalised RMSE")
        ax.set_yscale("log")
    else:
        ax.set_ylabel("correlation")
    ax.set_xlabel("time (ms)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


# ------------------------------------------------------------------ event input


def events_over_time(ax, events, bin_ms=5.0, saccades_us=None, title=None):
    """Events per ``bin_ms`` of one recording, ON and OFF, with the saccades'
    boundaries (dotted) when their times are given."""
    t_ms = events["t"].astype(np.float64) / 1000
    end = max(float(t_ms.max()) if len(t_ms) else 0.0,
              float(np.max(saccades_us)) / 1000 if saccades_us is not None else 0.0)
    edges = np.arange(0.0, end + bin_ms, bin_ms)
    for p, name, c in ((1, "ON", "tab:red"), (0, "OFF", "tab:blue")):
        counts, _ = np.histogram(t_ms[events["p"] == p], bins=edges)
        ax.stairs(counts, edges, color=c, lw=1.3,
                  label=f"{name} ({int(np.sum(events['p'] == p)):,})")
    if saccades_us is not None:
        for bound in np.unique(np.asarray(saccades_us)) / 1000:
            ax.axvline(bound, color="k", lw=0.6, ls=":")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"events per {bin_ms:g} ms")
    ax.legend(fontsize=8)
    ax.set_title(title or f"{len(events):,} events", fontsize=9)


def event_frame(ax, frame, title=None):
    """A frame of event counts ``(h, w, 2)`` (e.g. collapsed), ON minus OFF:
    red where the scene brightened, blue where it darkened."""
    diff = frame[..., 1] - frame[..., 0]
    top = float(np.abs(diff).max()) or 1.0
    image = ax.imshow(diff, cmap="bwr", vmin=-top, vmax=top)
    ax.set_title(title or "ON − OFF", fontsize=9)
    ax.axis("off")
    return image


# ---------------------------------------------------------------- several Axes


def _with_rasters(result):
    return {n: b for n, b in result.backends.items()
            if b.run.rasters and len(next(iter(b.run.rasters.values())))}


def _with_voltages(result):
    return {n: b for n, b in result.backends.items()
            if b.run.voltages is not None and len(b.run.voltages)}


def output_traces_figure(fig, result, n_digits=3):
    """The first digits' images and filtered outputs, one row per digit."""
    n_digits = min(n_digits, len(result.labels))
    axes = fig.subplots(n_digits, 2, squeeze=False, gridspec_kw=dict(width_ratios=[1, 5]))
    for row in range(n_digits):
        digit_image(axes[row, 0], result, row)
        output_traces(axes[row, 1], result, row)
        if row < n_digits - 1:
            axes[row, 1].set_xlabel("")
    fig.suptitle("Output traces per backend (readout filter applied)")
    return fig


def rasters_figure(fig, result, digit=0):
    """Spike rasters: one row per spiking backend, one column per layer. False if
    no backend recorded spikes."""
    spiking = _with_rasters(result)
    if not spiking:
        return False
    layers = list(next(iter(spiking.values())).run.rasters)
    axes = fig.subplots(len(spiking), len(layers), squeeze=False, sharex=True)
    for row, name in enumerate(spiking):
        for col, layer in enumerate(layers):
            raster(axes[row, col], result, name, layer, digit, i=row)
        axes[row, 0].set_ylabel("neuron")
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    n = next(iter(spiking.values())).run.rasters[layers[0]].shape[2]
    fig.suptitle(f"Spike rasters of {n} random neurons per layer, {result.item} {digit}")
    return fig


def voltages_figure(fig, result, digit=0):
    """One row per recorded neuron, backends overlaid. False if no backend
    recorded voltages."""
    if not _with_voltages(result):
        return False
    n = len(result.recording.voltage[1])
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)
    for j in range(n):
        voltage(axes[j, 0], result, j, digit)
    axes[0, 0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(f"Membrane voltage, {result.item} {digit} (units of the firing threshold, "
                 f"dotted line; reset to 0 after a spike)")
    return fig


def confusion_figure(fig, result):
    """One confusion matrix per backend, three to a row."""
    names = list(result.backends)
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        confusion(ax, result, name)
    fig.suptitle("Confusion matrices (counts; colour on a log scale)")
    return fig


def agreement_figure(fig, result):
    """The agreement heat map with its colour bar."""
    ax = fig.subplots()
    fig.colorbar(agreement(ax, result), ax=ax, label="same class (%)")
    return fig


def trace_error_figure(fig, result):
    """NRMSE and correlation against the reference, side by side."""
    ax1, ax2 = fig.subplots(1, 2)
    trace_error(ax1, result, "nrmse")
    trace_error(ax2, result, "correlation")
    fig.suptitle(f"Filtered output against {result.comparison.reference}, step by step")
    return fig


def frontier(ax, rows, cost="energy_uj", anchors=True):
    """Accuracy against a cost, one point per row of a sweep (:mod:`.sweep`):
    the chip's rows coloured by model, their Pareto front drawn as a staircase
    and ringed; for ``cost="energy_uj"`` also the ANNs' arithmetic (crosses) and,
    with ``anchors``, what chips have measured (:data:`.energy.ANCHORS`, stars).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    rows : list of dict
        ``sweep.csv``'s rows (:func:`.sweep.point_rows`, with the ``front_*``
        columns of :func:`.sweep.add_fronts`).
    cost : {"energy_uj", "mean_steps"}
    """
    from ..energy import ANCHORS

    flag = {"energy_uj": "front_energy", "mean_steps": "front_steps"}[cost]
    chip = [r for r in rows if r.get("chip_uj") is not None and r.get(cost) is not None]
    models = list(dict.fromkeys(r["model"] for r in chip))
    tab10 = matplotlib.colormaps["tab10"]
    for i, model in enumerate(models):
        mine = [r for r in chip if r["model"] == model]
        ax.scatter([r[cost] for r in mine], [100 * r["accuracy"] for r in mine],
                   s=22, color=tab10(i % 10), label=model, zorder=3)
    front = sorted((r for r in chip if r.get(flag)), key=lambda r: r[cost])
    if front:
        ax.step([r[cost] for r in front], [100 * r["accuracy"] for r in front], where="post",
                color="black", lw=1, zorder=2, label="front (chip)")
        ax.scatter([r[cost] for r in front], [100 * r["accuracy"] for r in front], s=70,
                   facecolors="none", edgecolors="black", zorder=4)
    if cost == "energy_uj":
        ann = [r for r in rows if r.get("chip_uj") is None and r.get("energy_uj")]
        if ann:
            ax.scatter([r["energy_uj"] for r in ann], [100 * r["accuracy"] for r in ann],
                       marker="x", color="grey", label="ANN arithmetic", zorder=3)
        if anchors:
            for chip_name, acc, joules, _ in ANCHORS:
                ax.scatter(joules * 1e6, 100 * acc, marker="*", s=90, color="goldenrod",
                           zorder=3)
                ax.annotate(chip_name, (joules * 1e6, 100 * acc), fontsize=7,
                            xytext=(4, -3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("energy per inference (µJ)")
    else:
        ax.set_xlabel("mean steps to decision")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def _spiking_backend(result):
    """The backend whose output plots stand for the spiking network: a chip
    backend if one ran, else the first spiking one, else the first."""
    names = list(result.backends)
    for wanted in ("loihi-emulator", "nengo-loihi-emulator", "loihi", "nengo-dl", "nengo"):
        if wanted in names:
            return wanted
    return names[0]


def class_outputs_figure(fig, result):
    """Seed 002's output-neuron plots: one panel per class (at most 10), the
    output neurons of the spiking network for a test sample of that class."""
    n = min(10, len(result.classes) or result.backends[_spiking_backend(result)].run.traces.shape[-1])
    axes = fig.subplots(int(np.ceil(n / 2)), min(2, n), squeeze=False).ravel()
    backend = _spiking_backend(result)
    drawn = [class_outputs(ax, result, label, backend) is not False
             for label, ax in zip(range(n), axes)]
    for ax, ok in zip(axes, drawn + [False] * (len(axes) - len(drawn))):
        if not ok:
            ax.axis("off")
    return any(drawn) or False


def _noise_kinds(result):
    return sorted({label.split(":")[0] for label in result.noise})


def noise_figure(fig, result):
    """Accuracy against noise level, one panel per kind of noise."""
    kinds = _noise_kinds(result)
    if not kinds:
        return False
    for ax, kind in zip(fig.subplots(1, len(kinds), squeeze=False)[0], kinds):
        noise_curve(ax, result, kind)


# ---------------------------------------------------------------- files


def _n_backends(result):
    return len(result.backends)


#: file → (figure size from the result, how to draw it)
FILES = {
    "output_traces.png": (lambda r: (10, 2.8 * min(3, len(r.labels))), output_traces_figure),
    "accuracy.png": (lambda r: (1.6 * _n_backends(r) + 2, 3.5),
                     lambda fig, r: accuracy(fig.subplots(), r)),
    "accuracy_by_step.png": (lambda r: (7, 4), lambda fig, r: accuracy_by_step(fig.subplots(), r)),
    "rasters.png": (lambda r: (3.6 * len(r.recording.raster), 2.4 * max(1, len(_with_rasters(r)))),
                    rasters_figure),
    "voltages.png": (lambda r: (8, 1.9 * len(r.recording.voltage[1])), voltages_figure),
    "confusion.png": (lambda r: (4 * min(3, _n_backends(r)),
                                 3.8 * int(np.ceil(_n_backends(r) / 3))), confusion_figure),
    "agreement.png": (lambda r: (1.1 * _n_backends(r) + 2.5, 0.9 * _n_backends(r) + 1.8),
                      agreement_figure),
    "trace_error.png": (lambda r: (11, 3.8), trace_error_figure),
    "class_outputs.png": (lambda r: (10, 2.6 * int(np.ceil(min(10, len(r.classes) or 10) / 2))),
                          class_outputs_figure),
    "noise.png": (lambda r: (5 * max(1, len(_noise_kinds(r))), 3.8), noise_figure),
}


def write_plots(out_dir, result):
    """Draw every plot of :data:`FILES` to a PNG in ``out_dir``; returns the file
    names written (a plot with nothing to show is skipped)."""
    from matplotlib.figure import Figure

    from .._io import atomic_path

    written = []
    for name, (size, draw) in FILES.items():
        fig = Figure(figsize=size(result), layout="constrained")
        if draw(fig, result) is False:
            continue
        with atomic_path(out_dir / name) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        written.append(name)
    return written
