"""Two runs side by side: the settings that differ, and each backend's figures
in both with their differences (``nengo-vision compare RUN_A RUN_B``)::

    c = nv.compare_runs("out-a", "out-b")     # folders, or Results
    print(c.to_text())
    c.write("a-vs-b.md")                      # c.to_markdown()

:func:`compare_and_write` is the command line's part in one call.

The settings come from each run's :meth:`.Config.record`: a setting's value, and
whether the run gave it, had it filled (by the data set or the model), or left
it at its default. The data set and the model come first, as a difference
there makes every other one a comparison of different things.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

#: settings listed before the others when they differ
FIRST = ("dataset", "model")


@dataclass
class SettingDifference:
    """One setting whose value differs between run A and run B.

    Attributes
    ----------
    name : str
        The setting (:class:`.Config`'s name).
    a, b
        Its value in each run, as ``results.json`` records it (``MISSING`` where
        a run's version had no such setting).
    how_a, how_b : str
        ``"given"``, ``"default"``, or ``"filled from ..."`` (where the value
        came from when the run did not give it).
    """

    name: str
    a: object
    b: object
    how_a: str
    how_b: str


#: the value of a setting a run does not have (written by another version)
MISSING = "(no such setting)"


@dataclass
class Figures:
    """One backend's figures in one run (per inference where so named).

    Attributes
    ----------
    n_test : int
        The digits it ran.
    accuracy, stderr : float
        Accuracy at the default readout, and its standard error on ``n_test``.
    latency_steps : float or None
        Mean steps until the class settles (None: no digit ended right).
    steps : float or None
        Mean steps per inference the spikes and energy are counted for (fewer
        than ``n_steps`` where a decision rule stopped samples); None for the
        ANN and rate networks.
    spikes, synops : float or None
        Spikes and synaptic operations per inference, all layers (spiking only).
    energy_uj : float or None
        Energy per inference (µJ; :mod:`.energy`), where the run counted it.
    seconds : float
        Wall time of the backend's run.
    """

    n_test: int
    accuracy: float
    stderr: float
    latency_steps: Optional[float]
    steps: Optional[float]
    spikes: Optional[float]
    synops: Optional[float]
    energy_uj: Optional[float]
    seconds: float

    @classmethod
    def of(cls, b):
        """The figures of :class:`.BackendResult` ``b``."""
        spiking = b.spiking
        return cls(
            n_test=b.n_test, accuracy=b.accuracy, stderr=b.stderr,
            latency_steps=b.latency.mean_steps,
            steps=b.decision.mean_steps if spiking and b.decision is not None else None,
            spikes=float(sum(b.spikes_per_inference.values())) if spiking else None,
            synops=float(sum(b.synops_per_inference.values())) if spiking else None,
            energy_uj=b.energy.total_joules * 1e6 if b.energy is not None else None,
            seconds=b.seconds,
        )


#: Figures field → its label and format, in the order shown
MEASURES = {
    "n_test": ("digits", "{:,.0f}"),
    "accuracy": ("accuracy", None),  # with its standard error: see _accuracy
    "latency_steps": ("latency (steps)", "{:.2f}"),
    "steps": ("steps / inference", "{:.2f}"),
    "spikes": ("spikes / inference", "{:,.1f}"),
    "synops": ("synaptic ops / inference", "{:,.0f}"),
    "energy_uj": ("energy / inference (µJ)", "{:,.4g}"),
    "seconds": ("wall time (s)", "{:,.2f}"),
}

#: the measures whose change is also given relative to A's value
RELATIVE = ("spikes", "synops", "energy_uj", "seconds")


@dataclass
class BackendComparison:
    """One backend in both runs (``a`` or ``b`` None where a run did not run it)."""

    name: str
    a: Optional[Figures]
    b: Optional[Figures]

    def difference(self, measure):
        """B − A of ``measure`` (a :class:`Figures` field), or None where either
        run lacks it."""
        if self.a is None or self.b is None:
            return None
        x, y = getattr(self.a, measure), getattr(self.b, measure)
        return None if x is None or y is None else y - x

    @property
    def accuracy_stderr(self):
        """The standard error of the accuracy's difference, sqrt(se_A² + se_B²)
        (for two independent samples of digits; on the same digits the errors
        are correlated and this overstates it)."""
        if self.a is None or self.b is None:
            return None
        return math.sqrt(self.a.stderr ** 2 + self.b.stderr ** 2)

    @property
    def beyond_noise(self):
        """True where the accuracies differ by more than twice
        :attr:`accuracy_stderr` (None where a run lacks the backend)."""
        diff = self.difference("accuracy")
        return None if diff is None else abs(diff) > 2 * self.accuracy_stderr

    def rows(self):
        """``[measure, A, B, B − A]`` as text, one per measure either run has
        (the change in spikes, synaptic operations, energy and seconds also
        relative to A's)."""
        out = []
        for measure, (label, fmt) in MEASURES.items():
            values = [getattr(f, measure) if f is not None else None for f in (self.a, self.b)]
            if all(v is None for v in values):
                continue
            diff = self.difference(measure)
            if measure == "accuracy":
                cells = [_accuracy(f) for f in (self.a, self.b)]
                change = "—" if diff is None else (
                    f"{diff * 100:+.2f} ± {self.accuracy_stderr * 100:.2f} points "
                    f"({'beyond' if self.beyond_noise else 'within'} noise)")
            else:
                cells = ["—" if v is None else fmt.format(v) for v in values]
                change = "—" if diff is None else _signed(fmt, diff)
                if diff is not None and measure in RELATIVE and values[0]:
                    change += f" ({diff / values[0] * 100:+.1f} %)"
            out.append([label, *cells, change])
        return out


def _accuracy(f):
    return "—" if f is None else f"{f.accuracy * 100:.2f} ± {f.stderr * 100:.2f} %"


def _signed(fmt, x):
    text = fmt.format(x)
    return text if text.startswith("-") else "+" + text


def show(value):
    """A setting's value as the command line spells it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(show(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ",".join(f"{k}={show(v)}" for k, v in value.items()) or "(none)"
    return str(value)


@dataclass
class RunComparison:
    """Run A and run B side by side (:func:`compare_runs`).

    Attributes
    ----------
    names : tuple of str
        What the runs are called (their folders, or ``"A"`` and ``"B"``).
    about : tuple of str
        Each run in a line: model, data set, date and machine.
    settings : list of SettingDifference
        The settings whose values differ, the data set and the model first
        (and ``"model file"``, its hash or ``"zoo"``, where the model's
        source differs).
    backends : list of BackendComparison
        Every backend either run ran, in A's order, then B's others.
    """

    names: tuple
    about: tuple
    settings: list
    backends: list

    def _settings_rows(self):
        return [[s.name, f"{show(s.a)} ({s.how_a})", f"{show(s.b)} ({s.how_b})"]
                for s in self.settings]

    def to_text(self):
        """The comparison for the terminal: aligned plain-text tables."""
        lines = [f"{label}: {name} ({about})"
                 for label, name, about in zip("AB", self.names, self.about)]
        lines.append("")
        if self.settings:
            lines.append(f"Settings that differ ({len(self.settings)}):")
            lines += _aligned(["setting", "A", "B"], self._settings_rows())
        else:
            lines.append("The settings are the same.")
        for c in self.backends:
            lines += ["", f"{c.name}:"]
            lines += _aligned(["", "A", "B", "B − A"], c.rows())
        return "\n".join(lines) + "\n"

    def to_markdown(self):
        """The comparison as a Markdown document."""
        from .markdown import _md_table

        lines = [f"# `{self.names[0]}` against `{self.names[1]}`", ""]
        lines += [f"- **{label}**: `{name}`, {about}"
                  for label, name, about in zip("AB", self.names, self.about)]
        lines += ["", "## Settings that differ", ""]
        if self.settings:
            lines += [_md_table(["setting", "A", "B"],
                                [[f"`{r[0]}`", *r[1:]] for r in self._settings_rows()]), ""]
        else:
            lines += ["None: the runs had the same settings.", ""]
        lines += ["## Results per backend", "",
                  "B − A for each figure; an accuracy's difference is given with its "
                  "standard error, sqrt(se_A² + se_B²), and is *beyond noise* when "
                  "larger than twice it.", ""]
        rows = [[f"`{c.name}`" if i == 0 else "", *row]
                for c in self.backends for i, row in enumerate(c.rows())]
        lines += [_md_table(["backend", "", "A", "B", "B − A"], rows), ""]
        return "\n".join(lines)

    def write(self, path):
        """Write :meth:`to_markdown` to file ``path`` (atomically); returns it."""
        from .._io import write_text

        path = Path(path)
        write_text(path, self.to_markdown())
        return path


def _aligned(header, rows):
    """Plain-text columns: the first left-aligned, the others right-aligned."""
    table = [header] + rows
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    return ["  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in table]


def _how(record, name):
    """How a run came by setting ``name``: given, filled (and from what), default."""
    if name in record["given"]:
        return "given"
    if name in record["filled"]:
        return f"filled from {record['filled'][name]['from']}"
    return "default"


def setting_differences(config_a, config_b):
    """The settings whose values differ between two :class:`.Config`\\ s, the data
    set and the model first, then in the order :class:`.Config` declares them."""
    ra, rb = config_a.record(), config_b.record()
    va, vb = ra["values"], rb["values"]
    names = list(dict.fromkeys([*va, *vb]))
    names = [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]
    return [
        SettingDifference(name, va.get(name, MISSING), vb.get(name, MISSING),
                          _how(ra, name) if name in va else "—",
                          _how(rb, name) if name in vb else "—")
        for name in names if va.get(name, MISSING) != vb.get(name, MISSING)
    ]


def _result(run):
    from ..result import Result

    return (run, None) if isinstance(run, Result) else (Result.load(run), str(run))


def compare_runs(a, b):
    """Run ``a`` against run ``b``: the settings that differ and every backend's
    figures in both, with their differences.

    Parameters
    ----------
    a, b : Result, str or Path
        A run (:func:`.run`'s result) or the folder its report was written to
        (read with :meth:`.Result.load`).

    Returns
    -------
    RunComparison
        ``.to_text()`` for the terminal, ``.to_markdown()`` or ``.write(path)``
        for a file.
    """
    (ra, name_a), (rb, name_b) = _result(a), _result(b)
    names = list(dict.fromkeys([*ra.backends, *rb.backends]))
    settings = setting_differences(ra.config, rb.config)
    if ra.model_source != rb.model_source:
        # the same --model path may hold another file: its hash tells
        source = [s["hash"] if isinstance(s, dict) else s for s in (ra.model_source,
                                                                    rb.model_source)]
        first = sum(s.name in FIRST for s in settings)
        settings.insert(first, SettingDifference("model file", *source, "its hash",
                                                 "its hash"))
    return RunComparison(
        names=(name_a or "A", name_b or "B"),
        about=tuple(f"{r.model} on {r.dataset}, run {r.date} on {r.machine}" for r in (ra, rb)),
        settings=settings,
        backends=[BackendComparison(
            n, *(Figures.of(r.backends[n]) if n in r.backends else None for r in (ra, rb)))
            for n in names],
    )


def compare_and_write(a, b, out=None):
    """What ``nengo-vision compare RUN_A RUN_B [--out FILE]`` does: compare the
    runs (:func:`compare_runs`), write the Markdown to ``out`` if given, and
    return the text for the terminal."""
    comparison = compare_runs(a, b)
    if out is not None:
        comparison.write(out)
    return comparison.to_text()
