"""Metrics on per-step output traces: readout rules, accuracy over time, latency,
agreement and trace error.

Everything here works on plain arrays, so it can be checked on hand-made traces
with known answers. Traces are ``(n_digits, n_steps, n_classes)``; steps are
counted from 1 (step ``t`` ends at time ``t * dt``).
"""

import numpy as np


def parse_synapse(tau):
    """A time constant in seconds, or None, → a ``nengo.Lowpass`` (or None)."""
    import nengo

    return None if tau is None else nengo.Lowpass(float(tau))


def readout(traces, synapse, dt=0.001):
    """Filter per-step output traces ``(N, n_steps, K)`` with ``synapse``, per image.

    Each image's filter starts from zero, as the network's state does.
    """
    if synapse is None:
        return np.asarray(traces)
    return synapse.filt(np.asarray(traces, dtype=float), dt=dt, axis=1, y0=0)


def step_response(n_steps, synapse, dt=0.001):
    """The readout filter's response to a constant input of 1, per step.

    A network trained on static images is trained for its steady state; through
    the readout filter that target rises like this curve. It is the "training
    pattern" of the weighted readout rules (Cohen et al. 2016, sec. 2.2): later steps,
    which should be closer to the steady state, weigh more.
    """
    ones = np.ones((1, n_steps, 1))
    return readout(ones, synapse, dt)[0, :, 0]


#: The papers the readout rules come from, cited in the rules' descriptions.
SKIM = "Cohen et al. 2016"
STOECKL = "Stöckl 2019"
REFERENCES = {
    SKIM: "G. Cohen, G. Orchard, S.-H. Leng, J. Tapson, R. Benosman, A. van Schaik, "
          "\"Skimming Digits: Neuromorphic Classification of Spike-Encoded Images\", "
          "Frontiers in Neuroscience 10:184, 2016",
    STOECKL: "C. Stöckl, \"Image Classification with Spiking Convolutional Neural "
             "Networks\", master's thesis, Graz University of Technology, 2019",
}

#: Readout rules, in report order: name → (description, score function). Each
#: function takes the unfiltered traces ``raw``, the filtered ones ``filt``
#: (both ``(N, n_steps, K)``), the step weights ``w`` (``(1, n_steps, 1)``),
#: ``k`` and ``dt``, and returns ``(N, K)`` scores; the largest score wins.
_RULES = {
    "last": (
        "the filtered output at the last step (the default)",
        lambda raw, filt, w, k, dt: filt[:, -1],
    ),
    "mean_last_{k}": (
        "the mean of the filtered output over the last {k} steps",
        lambda raw, filt, w, k, dt: filt[:, -k:].mean(axis=1),
    ),
    "integrate": (
        "a non-leaky integrating output: the unfiltered output summed over all "
        "steps times dt; its final value is the class score (for a constant "
        "output: the logit times the presentation time; " + STOECKL + ", sec. 5.1.3)",
        lambda raw, filt, w, k, dt: raw.sum(axis=1) * dt,
    ),
    "max": (
        "the class whose filtered output reaches the highest value at any step "
        "(Max; " + SKIM + ", sec. 2.2)",
        lambda raw, filt, w, k, dt: filt.max(axis=1),
    ),
    "area": (
        "the largest area under the filtered output, negative parts subtracted "
        "(Area; " + SKIM + ", sec. 2.2)",
        lambda raw, filt, w, k, dt: filt.sum(axis=1) * dt,
    ),
    "weighted_max": (
        "Max after weighting each step by the readout filter's step response "
        "(Weighted Max; " + SKIM + ", sec. 2.2)",
        lambda raw, filt, w, k, dt: (filt * w).max(axis=1),
    ),
    "weighted_area": (
        "Area after the same weighting (Weighted Area; " + SKIM + ", sec. 2.2)",
        lambda raw, filt, w, k, dt: (filt * w).sum(axis=1) * dt,
    ),
}


def readout_rules(k):
    """Name → description of every readout rule, in report order."""
    return {name.format(k=k): desc.format(k=k) for name, (desc, _) in _RULES.items()}


def readout_predictions(traces, k, synapse, dt=0.001):
    """Class chosen by every readout rule: name → ``(N,)`` predictions.

    Parameters
    ----------
    traces : ndarray
        Unfiltered output, ``(N, n_steps, K)``.
    k : int
        Steps averaged by the mean-of-last-k rule (at most ``n_steps``).
    synapse : nengo.synapses.Synapse or None
        The readout filter.
    """
    raw = np.asarray(traces, dtype=float)
    k = min(k, raw.shape[1])
    filt = readout(raw, synapse, dt)  # once, for every rule
    w = step_response(raw.shape[1], synapse, dt)[None, :, None]
    return {
        name.format(k=k): fn(raw, filt, w, k, dt).argmax(-1)
        for name, (_, fn) in _RULES.items()
    }


def readout_scores(traces, synapse, dt=0.001, rule="last"):
    """Each class's score at every step, ``(N, n_steps, K)``: the filtered output
    at that step (``rule="last"``), or the unfiltered output summed from the
    first step to that one (``"integrate"``: the evidence of a stream so far)."""
    traces = np.asarray(traces, dtype=float)
    if rule == "integrate":
        return np.cumsum(traces, axis=1)
    return readout(traces, synapse, dt)


def predictions_by_step(traces, synapse, dt=0.001, rule="last"):
    """The class at every step, ``(N, n_steps)``, by :func:`readout_scores`."""
    return readout_scores(traces, synapse, dt, rule).argmax(-1)


def decide(scores, margin=None):
    """Early decisions: when each sample stops, and its class then.

    A sample stops at the first step at which its leading class's score is at
    least ``margin`` above the next one's; one whose scores never part so far
    runs to the last step, as do all when ``margin`` is None. With summed
    scores (``readout_scores(..., rule="integrate")``) this is a race of
    accumulated evidence (a sequential test); with filtered ones, a threshold on
    the present output.

    Parameters
    ----------
    scores : ndarray
        ``(N, n_steps, K)`` class scores at every step.
    margin : float or None

    Returns
    -------
    stop : ndarray
        ``(N,)`` int: the step (from 1) each sample stops at.
    predictions : ndarray
        ``(N,)`` int: its class at that step.
    """
    scores = np.asarray(scores, dtype=float)
    n, n_steps = scores.shape[:2]
    stop = np.full(n, n_steps)
    if margin is not None and n_steps and scores.shape[-1] > 1:
        top2 = np.sort(scores, axis=-1)[..., -2:]
        sure = top2[..., 1] - top2[..., 0] >= margin
        stop = np.where(sure.any(1), sure.argmax(1) + 1, n_steps)
    return stop, scores[np.arange(n), stop - 1].argmax(-1)


def step_accuracy(step_predictions, labels):
    """Fraction right at every step, from ``(N, n_steps)`` classes: ``(n_steps,)``."""
    return (np.asarray(step_predictions) == np.asarray(labels)[:, None]).mean(0)


def latency_steps(step_predictions, labels):
    """The first step (from 1) from which each digit's class is right to the end.

    Parameters
    ----------
    step_predictions : ndarray
        ``(N, n_steps)`` class per step.
    labels : ndarray
        ``(N,)`` true classes.

    Returns
    -------
    ndarray
        ``(N,)`` float: the step, or NaN where the last step is wrong.
    """
    right = np.asarray(step_predictions) == np.asarray(labels)[:, None]
    n_steps = right.shape[1]
    # steps wrong, counted back from the end: the last wrong step decides
    wrong_from_end = ~right[:, ::-1]
    last_wrong = np.where(
        wrong_from_end.any(1), n_steps - wrong_from_end.argmax(1), 0
    )  # 1-based index of the last wrong step, 0 if never wrong
    latency = (last_wrong + 1).astype(float)
    latency[~right[:, -1]] = np.nan
    return latency


def confusion_matrix(labels, predictions, n_classes):
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    flat = np.bincount(labels * n_classes + predictions, minlength=n_classes**2)
    return flat.reshape(n_classes, n_classes)


def macro_scores(confusion):
    """Macro-averaged recall, precision and F1 from a confusion matrix.

    Averages over the classes that occur among the true labels. A class with
    no true digits is left out of all three averages, so predictions of it
    lower no average (this matters only for small test sets); a class that
    occurs but is never predicted has precision 0.
    """
    confusion = np.asarray(confusion, dtype=float)
    true = confusion.sum(1)
    predicted = confusion.sum(0)
    hits = np.diag(confusion)
    present = true > 0
    recall = np.divide(hits, true, out=np.zeros_like(hits), where=true > 0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    denom = recall + precision
    f1 = np.divide(2 * recall * precision, denom, out=np.zeros_like(hits), where=denom > 0)
    return dict(
        recall=float(recall[present].mean()),
        precision=float(precision[present].mean()),
        f1=float(f1[present].mean()),
    )


def agreement_matrix(predictions):
    """Fraction of digits on which each pair agrees: name → name → fraction.

    Each backend's predictions are for the first digits of one test set; a pair
    is compared on the digits both ran (the shorter one's).
    """

    def agree(a, b):
        n = min(len(a), len(b))
        return float(np.mean(a[:n] == b[:n]))

    return {a: {b: agree(pa, pb) for b, pb in predictions.items()}
            for a, pa in predictions.items()}


def trace_error(traces, reference, synapse, dt=0.001):
    """Per-step difference between two backends' filtered output traces.

    Returns
    -------
    nrmse : ndarray
        ``(n_steps,)``: RMS of the difference over digits and classes, divided by
        the RMS of the reference at that step (0 for identical traces).
    correlation : ndarray
        ``(n_steps,)``: Pearson correlation over digits and classes (NaN where
        either trace is constant at that step).
    """
    a = readout(np.asarray(traces, dtype=float), synapse, dt)
    r = readout(np.asarray(reference, dtype=float), synapse, dt)
    n_steps = a.shape[1]
    a = a.transpose(1, 0, 2).reshape(n_steps, -1)
    r = r.transpose(1, 0, 2).reshape(n_steps, -1)
    rms_ref = np.sqrt(np.mean(r**2, axis=1))
    rms_diff = np.sqrt(np.mean((a - r) ** 2, axis=1))
    nrmse = np.divide(
        rms_diff, rms_ref, out=np.where(rms_diff == 0, 0.0, np.inf), where=rms_ref > 0
    )
    da, dr = a - a.mean(1, keepdims=True), r - r.mean(1, keepdims=True)
    norm = np.sqrt((da**2).sum(1) * (dr**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(norm > 0, (da * dr).sum(1) / norm, np.nan)
    return nrmse, corr
