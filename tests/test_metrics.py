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


def test_every_rule_is_described():
    preds = metrics.readout_predictions(np.zeros((1, 4, K)), 10, None)
    # k is capped at the number of steps
    assert list(preds) == list(metrics.readout_rules(4))
    assert "mean_last_4" in preds


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


def test_weighted_rules_weigh_late_steps_more():
    synapse = nengo.Lowpass(0.005)
    w = metrics.step_response(20, synapse)
    assert np.all(np.diff(w) > 0) and 0 < w[0] < w[-1] < 1
    # early burst for class 1, a later equal burst for class 2: unweighted area
    # ties up to filtering; the weighted area prefers the later one
    traces = np.zeros((1, 20, K))
    traces[0, 2:5, 1] = 1.0
    traces[0, 12:15, 2] = 1.0
    preds = metrics.readout_predictions(traces, 5, synapse)
    assert preds["weighted_area"][0] == 2 and preds["weighted_max"][0] == 2
