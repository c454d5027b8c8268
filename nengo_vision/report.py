"""Results on disk: ``results.json``, ``traces.npz`` and PNG plots, all atomic."""

import json

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ._io import atomic_path, write_text  # noqa: E402
from .conversion import readout  # noqa: E402


def write_results(out_dir, results):
    """Write ``results.json``."""
    write_text(out_dir / "results.json", json.dumps(results, indent=2, sort_keys=False) + "\n")


def write_traces(out_dir, runs, labels, indices):
    """Write every backend's per-step output traces to ``traces.npz``.

    Keys: ``labels``, ``indices`` (test-set indices) and one ``(N, n_steps, K)``
    array per backend, named after it.
    """
    arrays = {name: run.traces.astype(np.float32) for name, run in runs.items()}
    with atomic_path(out_dir / "traces.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, labels=labels, indices=indices, **arrays)


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def plot_traces(out_dir, runs, images, labels, synapse, dt, n_digits=3):
    """Output traces of the first few digits: one row per digit, one column per
    backend, the true class drawn thick. Returns the file name."""
    names = list(runs)
    n_digits = min(n_digits, len(labels))
    fig, axes = plt.subplots(
        n_digits, len(names) + 1, figsize=(3.2 * (len(names) + 1), 2.6 * n_digits),
        squeeze=False, layout="constrained",
    )
    colors = plt.cm.tab10(np.arange(10))
    for row in range(n_digits):
        ax = axes[row, 0]
        ax.imshow(images[row].squeeze(), cmap="gray")
        ax.set_title(f"digit {row}: label {labels[row]}")
        ax.axis("off")
        for col, name in enumerate(names, start=1):
            ax = axes[row, col]
            trace = readout(runs[name].traces[row : row + 1], synapse, dt)[0]
            t = np.arange(1, len(trace) + 1) * dt * 1000
            for k in range(trace.shape[1]):
                ax.plot(
                    t, trace[:, k], color=colors[k],
                    lw=2.5 if k == labels[row] else 0.8,
                    label=str(k),
                )
            guess = trace[-1].argmax()
            ax.set_title(f"{name}: says {guess}", color="k" if guess == labels[row] else "r")
            ax.set_xlabel("time (ms)")
            if col == 1:
                ax.set_ylabel("filtered output")
    axes[0, -1].legend(title="class", fontsize=7, ncol=2, loc="upper left",
                       bbox_to_anchor=(1.02, 1))
    fig.suptitle("Output traces per backend (thick line: true class)")
    _save(fig, out_dir / "output_traces.png")
    return "output_traces.png"


def plot_accuracy(out_dir, summary):
    """Bar chart of accuracy by backend. Returns the file name."""
    names = list(summary)
    acc = [summary[n]["accuracy"] * 100 for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.5), layout="constrained")
    bars = ax.bar(names, acc, color=plt.cm.tab10(np.arange(len(names))))
    for bar, a in zip(bars, acc):
        ax.text(bar.get_x() + bar.get_width() / 2, a, f"{a:.2f}%", ha="center",
                va="bottom", fontsize=9)
    low = max(0.0, min(acc) - 10)
    ax.set_ylim(low, 100)
    ax.set_ylabel("accuracy (%)")
    n = summary[names[0]]["n_test"]
    ax.set_title(f"Accuracy by backend ({n} test digits)")
    _save(fig, out_dir / "accuracy.png")
    return "accuracy.png"


def table(summary):
    """A plain-text table of the results, one line per backend."""
    # layers in network order, as the first backend that has each lists them
    layers = list(dict.fromkeys(k for s in summary.values() for k in s["firing_rates"]))
    head = f"{'backend':<16}{'accuracy':>10}{'digits':>8}{'seconds':>10}"
    head += "".join(f"{l + ' Hz':>12}" for l in layers)
    lines = [head, "-" * len(head)]
    for name, s in summary.items():
        line = f"{name:<16}{s['accuracy'] * 100:>9.2f}%{s['n_test']:>8}{s['seconds']:>10.1f}"
        line += "".join(
            f"{s['firing_rates'][l]:>12.1f}" if l in s["firing_rates"] else f"{'-':>12}"
            for l in layers
        )
        lines.append(line)
    return "\n".join(lines)
