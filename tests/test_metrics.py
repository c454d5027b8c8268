"""Comparison metrics on hand-made traces with known answers."""

import nengo
import numpy as np
import pytest

from nengo_vision import metrics

K = 10


def one_hot_traces(classes):
    """Traces ``(N, n_steps, K)`` that are 1 for the given class at each step."""
    classes = np.asarray(classes)
    return np.eye(K)[classes]


def test_latency_right_from_step_5():
    # wrong (class 3) for steps 1-4, right (class 7) from step 5 to the end
    steps = np.array([[3, 3, 3, 3, 7, 7, 7, 7, 7, 7]])
    assert metrics.latency_steps(steps, np.array([7]))[0] == 5


def test_latency_counts_from_the_last_change():
    labels = np.array([7, 7, 7, 7])
    steps = np.array([
        [7, 7, 7, 7, 7, 7],  # right throughout: 1
        [7, 7, 3, 3, 7, 7],  # right early, wrong, then right from step 5: 5
        [3, 3, 3, 3, 3, 7],  # right only at the last step: 6
        [7, 7, 7, 7, 7, 3],  # wrong at the end: never settled
    ])
    latency = metrics.latency_steps(steps, labels)
    np.testing.assert_array_equal(latency[:3], [1, 5, 6])
    assert np.isnan(latency[3])


def test_latency_from_traces_without_filter():
    traces = one_hot_traces([[3] * 4 + [7] * 6])
    steps = metrics.predictions_by_step(traces, None)
    assert metrics.latency_steps(steps, np.array([7]))[0] == 5
    np.testing.assert_array_equal(
        metrics.step_accuracy(steps, np.array([7])), [0] * 4 + [1] * 6
    )


def test_identical_backends_agree_fully_with_zero_error():
    rng = np.random.RandomState(0)
    traces = rng.randn(20, 30, K)
    preds = {"a": traces[:, -1].argmax(-1), "b": traces.copy()[:, -1].argmax(-1)}
    assert metrics.agreement_matrix(preds) == {
        "a": {"a": 1.0, "b": 1.0}, "b": {"a": 1.0, "b": 1.0}
    }
    nrmse, corr = metrics.trace_error(traces, traces.copy(), nengo.Lowpass(0.01))
    np.testing.assert_array_equal(nrmse, np.zeros(30))
    np.testing.assert_allclose(corr, np.ones(30))


def test_trace_error_known_values():
    reference = np.zeros((1, 2, K))
    reference[0, :, 0] = [1.0, 2.0]
    # half the reference: error is half its RMS; still perfectly correlated
    nrmse, corr = metrics.trace_error(reference / 2, reference, None)
    np.testing.assert_allclose(nrmse, [0.5, 0.5])
    np.testing.assert_allclose(corr, [1.0, 1.0])
    # negated: twice the RMS, correlation -1
    nrmse, corr = metrics.trace_error(-reference, reference, None)
    np.testing.assert_allclose(nrmse, [2.0, 2.0])
    np.testing.assert_allclose(corr, [-1.0, -1.0])


def test_agreement_partial():
    preds = {"a": np.array([1, 2, 3, 4]), "b": np.array([1, 2, 0, 0])}
    assert metrics.agreement_matrix(preds)["a"]["b"] == 0.5


def test_confusion_and_macro_scores():
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0])
    m = metrics.confusion_matrix(labels, preds, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    scores = metrics.macro_scores(m)
    # recall per class 1/2, 1, 1/2; precision 1/2, 2/3, 1
    assert scores["recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert scores["precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    f1 = [2 * r * p / (r + p) for r, p in [(0.5, 0.5), (1, 2 / 3), (0.5, 1)]]
    assert scores["f1"] == pytest.approx(np.mean(f1))


RULES = ["last", "mean_last_{k}", "integrate", "max", "area", "weighted_max", "weighted_area"]


def test_every_rule_is_named_and_k_is_capped():
    # k is capped at the number of steps, and the name says the k used
    names = [r.format(k=4) for r in RULES]
    assert list(metrics.readout_predictions(np.zeros((1, 4, K)), 10, None)) == names
    assert list(metrics.readout_rules(4)) == names


#: A lowpass whose discrete step halves the state: y[t] = y[t-1] / 2 + x[t] / 2
#: (exp(-dt / tau) = 1/2), so that filtered traces can be worked out by hand.
HALVING = nengo.Lowpass(0.001 / np.log(2))


def test_step_response_by_hand():
    # 1 - 2**-t for a constant input of 1
    np.testing.assert_allclose(metrics.step_response(4, HALVING), [0.5, 0.75, 0.875, 0.9375])
    # any lowpass: 1 - exp(-t dt / tau) at the ends of the steps
    t = np.arange(1, 21) * 0.001
    np.testing.assert_allclose(metrics.step_response(20, nengo.Lowpass(0.005)),
                               1 - np.exp(-t / 0.005))


def test_readout_rules_by_hand():
    """Six digits, three classes, four steps, filtered by HALVING; k = 2.

    Step weights w = [1/2, 3/4, 7/8, 15/16]. Each digit's scores were worked
    out by hand (below, per class); every rule picks its own classes.
    """
    raw = np.zeros((6, 4, 3))
    # digit 0: filt c0 = [2.5, 1.25, .625, .3125], c1 = [0, 0, 0, 1.5],
    #          c2 = [.5, .75, .875, .9375]
    #   last .3125 / 1.5 / .9375 -> 1; mean_last_2 .46875 / .75 / .90625 -> 2
    #   integrate 5 / 3 / 4 ms -> 0; max 2.5 / 1.5 / .9375 -> 0
    #   area 4.6875 / 1.5 / 3.0625 ms -> 0
    #   weighted_max 1.25 / 1.40625 / .87890625 -> 1
    #   weighted_area 3.02734375 / 1.40625 / 2.45703125 ms -> 0
    raw[0, 0, 0], raw[0, 3, 1], raw[0, :, 2] = 5, 3, 1
    # digit 1: filt c0 = [0, 0, 0, 2], c1 = [1.5, .75, .375, .1875]
    #   last 2 / .1875 -> 0; mean_last_2 1 / .28125 -> 0; integrate 4 / 3 -> 0
    #   max 2 / 1.5 -> 0; area 2 / 2.8125 -> 1 (the early class lasts longer)
    #   weighted_max 1.875 / .75 -> 0; weighted_area 1.875 / 1.81640625 -> 0
    raw[1, 3, 0], raw[1, 0, 1] = 4, 3
    # digit 2: filt c0 = [2, -1, -.5, -.25], c1 = [.5, .25, .125, .0625]
    #   last -.25 / .0625 / 0 -> 1; mean_last_2 -.375 / .09375 / 0 -> 1
    #   integrate 0 / 1 / 0 -> 1; max 2 / .5 / 0 -> 0
    #   area .25 / .9375 / 0 -> 1 (negative parts subtracted)
    #   weighted_max 1 / .25 / 0 -> 0; weighted_area -.421875 / .60546875 / 0 -> 1
    raw[2, :2, 0], raw[2, 0, 1] = [4, -4], 1
    # digit 3: filt c0 = [0, 0, 2, 1], c1 = [0, 0, 0, 1.25], c2 = [0, 3, 1.5, .75]
    #   last 1 / 1.25 / .75 -> 1; mean_last_2 1.5 / .625 / 1.125 -> 0 (over the
    #   last 3 steps, 1 / .417 / 1.75 -> 2); integrate 4 / 2.5 / 6 -> 2
    #   max 2 / 1.25 / 3 -> 2; area 3 / 1.25 / 5.25 -> 2
    #   weighted_max 1.75 / 1.171875 / 2.25 -> 2
    #   weighted_area 2.6875 / 1.171875 / 4.265625 -> 2
    raw[3, 2, 0], raw[3, 3, 1], raw[3, 1, 2] = 4, 2.5, 6
    # digit 4: filt c0 = [0, 0, 0, 2], c1 = [0, 0, 1.75, .875]
    #   last 2 / .875 -> 0; mean_last_2 1 / 1.3125 -> 1; integrate 4 / 3.5 -> 0
    #   max 2 / 1.75 -> 0; area 2 / 2.625 -> 1
    #   weighted_max 1.875 / 1.53125 -> 0; weighted_area 1.875 / 2.3515625 -> 1
    raw[4, 3, 0], raw[4, 2, 1] = 4, 3.5
    # digit 5: a late spike against a steady input: filt c0 = [0, 0, 0, 1.5],
    # c1 = [0, 1, 1.5, 1.75]; class 1 wins every rule (max 1.5 / 1.75, although
    # the unfiltered peak is class 0's 3)
    raw[5, 3, 0], raw[5, 1:, 1] = 3, 2
    preds = metrics.readout_predictions(raw, 2, HALVING, dt=0.001)
    assert {name: list(p) for name, p in preds.items()} == {
        "last": [1, 0, 1, 1, 0, 1],
        "mean_last_2": [2, 0, 1, 0, 1, 1],
        "integrate": [0, 0, 1, 2, 0, 1],
        "max": [0, 0, 0, 2, 0, 1],
        "area": [0, 1, 1, 2, 1, 1],
        "weighted_max": [1, 0, 0, 2, 0, 1],
        "weighted_area": [0, 0, 1, 2, 1, 1],
    }
    # the default readout, step by step: digit 0's filtered classes lead in turn
    np.testing.assert_array_equal(metrics.predictions_by_step(raw, HALVING)[0], [0, 0, 2, 1])
    # integrating, step by step: the running sums' leader, the last step the
    # "integrate" rule's choice
    running = metrics.predictions_by_step(raw, HALVING, rule="integrate")
    np.testing.assert_array_equal(running[:, -1], preds["integrate"])
    np.testing.assert_array_equal(running, np.cumsum(raw, axis=1).argmax(-1))


def test_readout_rules_disagree_where_they_should():
    dt = 0.001
    traces = np.zeros((1, 10, K))
    # class 1 has one big spike at step 2; class 2 a steady smaller output
    traces[0, 1, 1] = 10.0
    traces[0, :, 2] = 1.5
    preds = {k: int(v[0]) for k, v in metrics.readout_predictions(traces, 3, None, dt).items()}
    # without a filter every step weighs 1, so the weighted rules equal the others
    assert preds == {
        "last": 2, "mean_last_3": 2, "integrate": 2, "max": 1, "area": 2,
        "weighted_max": 1, "weighted_area": 2,
    }


def test_integrating_output_is_the_sum_of_the_output():
    # class 4 leads for 6 of 10 steps, but class 5's total is larger
    traces = np.zeros((1, 10, K))
    traces[0, :6, 4] = 1.0
    traces[0, 6:, 5] = 2.0
    preds = metrics.readout_predictions(traces, 2, None)
    assert preds["integrate"][0] == 5 and preds["area"][0] == 5
    traces[0, 6:, 5] = 1.4  # 5.6 < 6 total: class 4 wins the integral
    preds = metrics.readout_predictions(traces, 2, None)
    assert preds["integrate"][0] == 4 and preds["last"][0] == 5


def test_decisions_stop_where_the_lead_first_reaches_the_margin():
    from nengo_vision.metrics import decide

    # three samples, four steps, two classes: a lead of 0.5, 1.5, 3, 4 for the
    # first; the second never leads by 2; the third leads at once, then loses it
    scores = np.array([
        [[0.0, 0.5], [0.0, 1.5], [3.0, 0.0], [4.0, 0.0]],
        [[1.0, 0.0], [1.5, 0.0], [0.0, 1.0], [0.0, 1.9]],
        [[2.5, 0.0], [0.0, 9.0], [0.0, 9.0], [0.0, 9.0]],
    ])
    stop, classes = decide(scores, margin=2.0)
    assert stop.tolist() == [3, 4, 1] and classes.tolist() == [0, 1, 0]
    # no rule: every sample runs to the end, its class the last step's
    stop, classes = decide(scores)
    assert stop.tolist() == [4, 4, 4] and classes.tolist() == [0, 1, 1]
