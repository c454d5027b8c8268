"""NIR in and out: the deployed network written as a NIR graph and read back,
graphs of every supported node type imported, Norse as the second simulator,
and the one-line errors."""

import numpy as np
import pytest

from nengo_vision.convert import PROG, main

nir = pytest.importorskip("nir")

DT = 0.001


def run_main(capsys, *args):
    try:
        status = main(list(args))
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().err


def assert_one_line_error(status, err, expected):
    assert status == 2
    assert err == f"{PROG}: error: {expected}\n"


def zoo_model(name, seed=0, tau_ref=0.002):
    import tensorflow as tf

    from nengo_vision.deploy import deployable
    from nengo_vision.models import get_model
    from nengo_vision.neurons import LIFActivation

    tf.keras.utils.set_random_seed(seed)
    return deployable(get_model(name).build(LIFActivation(tau_ref=tau_ref, amplitude=0.002,
                                                          gain=10.0)))


def round_trip(model, tmp_path, **kwargs):
    from nengo_vision.deploy.network import to_keras
    from nengo_vision.interop import export_nir
    from nengo_vision.interop.nir_import import network_from_nir, read_graph

    path = tmp_path / f"{model.name}.nir"
    with pytest.warns(UserWarning):
        export_nir(model, path, **kwargs)
    imported = network_from_nir(read_graph(path), name=model.name)
    return to_keras(imported.network), imported


# ------------------------------------------------------------------ round trip

@pytest.mark.parametrize("name", ["scnn_mnist", "rscnn_mnist", "vgg_mnist"])
def test_keras_to_nir_and_back_is_the_same_network(name, tmp_path):
    """Weights, biases and neurons come back bit for bit (the exporter's scales
    are undone from the nodes' metadata), so the model computes the same."""
    from nengo_vision.deploy.network import from_keras

    model = zoo_model(name)
    back, imported = round_trip(model, tmp_path, synapse=0.002, output_synapse=0.1)
    assert imported.settings == dict(synapse=0.002, input_synapse=None, output_synapse=0.1)
    a, b = from_keras(model), from_keras(back)
    assert list(a.layers) == list(b.layers)
    for la, lb in zip(a.layers.values(), b.layers.values()):
        assert (la.kind, la.inputs, la.shape, la.neuron) == (lb.kind, lb.inputs, lb.shape,
                                                             lb.neuron)
        if la.kernel is not None:
            assert la.kernel.dtype == lb.kernel.dtype == np.float32
            np.testing.assert_array_equal(la.kernel, lb.kernel)
            np.testing.assert_array_equal(la.bias, lb.bias)
    x = np.random.RandomState(1).rand(8, 28, 28, 1).astype(np.float32)
    np.testing.assert_array_equal(model(x).numpy(), back(x).numpy())


def test_round_trip_fires_the_same_spikes_in_nengo(tmp_path, test_digits):
    """Keras → deployed network → NIR → deployed network: Nengo's spikes and
    output traces are array-equal to the original's on real digits."""
    from nengo_vision.backends import RunContext, get_backend

    model = zoo_model("tiny_mnist", seed=3)
    back, _ = round_trip(model, tmp_path, synapse=0.002)
    x = test_digits[0][:20]
    runs = []
    for m in (model, back):
        ctx = RunContext(model=m, n_steps=20, synapse=0.002, progress=False,
                         log=lambda *a: None)
        runs.append(get_backend("nengo").run(ctx, x))
    assert sum(c.sum() for c in runs[0].spike_counts.values()) > 1000
    for layer in runs[0].spike_counts:
        np.testing.assert_array_equal(runs[0].spike_counts[layer], runs[1].spike_counts[layer])
    np.testing.assert_array_equal(runs[0].traces, runs[1].traces)


def test_export_writes_nir_conventions(tmp_path):
    """NCHW weights times gain and the spike's value; LIF, CubaLIF behind a
    synapse, LI for the synapse into the readout and for its filter; dt in the
    metadata; one warning per thing NIR cannot say."""
    from nengo_vision.interop import export_nir

    model = zoo_model("tiny_mnist")
    path = tmp_path / "g.nir"
    with pytest.warns(UserWarning) as caught:
        notes = export_nir(model, path, dt=DT, synapse=0.005, output_synapse=0.1)
    assert [str(w.message) for w in caught] == notes
    assert any("no refractory period" in n and "tau_ref=2 ms" in n and "125 Hz" in n
               for n in notes)
    assert any("no voltage floor" in n for n in notes)
    g = nir.read(path)
    kinds = {k: type(n).__name__ for k, n in g.nodes.items()}
    assert kinds == {"input": "Input", "conv0": "Conv2d", "conv0.neurons": "LIF",
                     "conv1": "Conv2d", "conv1.neurons": "CubaLIF", "flatten": "Flatten",
                     "output.synapse": "LI", "output": "Affine", "readout_filter": "LI",
                     "output_node": "Output"}
    assert g.metadata["dt"] == DT
    kernel, bias = model.get_layer("conv1").get_weights()
    amp, gain = 0.002, 10.0
    np.testing.assert_allclose(g.nodes["conv1"].weight,
                               np.transpose(kernel, (3, 2, 0, 1)) * gain * amp / DT, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["conv1"].bias, bias * gain, rtol=1e-6)
    cuba = g.nodes["conv1.neurons"]
    assert cuba.tau_syn.flat[0] == 0.005 and cuba.tau_mem.flat[0] == 0.02
    assert g.nodes["readout_filter"].tau.flat[0] == 0.1
    assert g.nodes["output.synapse"].tau.flat[0] == 0.005
    assert g.nodes["flatten"].start_dim == 0
    # the flattened order is NIR's (c, h, w): column j of the Affine is Keras row k
    w = model.get_layer("output").get_weights()[0]  # (h*w*c, 10) in (h, w, c) order
    c, h, wd = 16, 4, 4
    hwc = np.arange(h * wd * c).reshape(h, wd, c)
    np.testing.assert_allclose(g.nodes["output"].weight[:, 1 * h * wd + 2 * wd + 3],
                               w[hwc[2, 3, 1]] * amp / DT, rtol=1e-6)


# ------------------------------------------------------------------ import

def _lif(shape, tau=0.02, r=1.0, v_th=1.0, v_leak=0.0, v_reset=0.0):
    one = np.ones(shape)
    return nir.LIF(tau=one * tau, r=one * r, v_leak=one * v_leak, v_threshold=one * v_th,
                   v_reset=one * v_reset)


def graph_one():
    """Input, Conv2d, LIF, SumPool2d, Scale, Conv2d, CubaLIF, AvgPool2d, Flatten,
    Affine, CubaLIF, Linear, LI, Output."""
    rng = np.random.RandomState(0)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([1, 28, 28])}),
        "c1": nir.Conv2d(input_shape=(28, 28), weight=rng.randn(4, 1, 3, 3), stride=1,
                         padding=1, dilation=1, groups=1, bias=np.full(4, 0.5)),
        "n1": _lif((4, 28, 28), tau=0.02, r=2.0, v_th=0.5, v_leak=0.1),
        "p1": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                            padding=np.array([0, 0])),
        "s1": nir.Scale(scale=np.full((4, 14, 14), 0.5)),
        "c2": nir.Conv2d(input_shape=(14, 14), weight=rng.randn(6, 4, 3, 3) * 0.1,
                         stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(6)),
        "n2": nir.CubaLIF(tau_syn=np.full((6, 12, 12), 0.004),
                          tau_mem=np.full((6, 12, 12), 0.03), r=np.ones((6, 12, 12)),
                          v_leak=np.zeros((6, 12, 12)), v_threshold=np.ones((6, 12, 12)),
                          w_in=np.full((6, 12, 12), 3.0)),
        "p2": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                            padding=np.array([0, 0])),
        "f": nir.Flatten(input_type={"input": np.array([6, 6, 6])}, start_dim=0),
        "a1": nir.Affine(weight=rng.randn(20, 216) * 0.1, bias=np.full(20, 0.2)),
        "n3": nir.CubaLIF(tau_syn=np.full(20, 0.004), tau_mem=np.full(20, 0.05),
                          r=np.full(20, 1.5), v_leak=np.zeros(20), v_threshold=np.full(20, 2.0),
                          w_in=np.ones(20)),
        "l1": nir.Linear(weight=rng.randn(10, 20)),
        "li": nir.LI(tau=np.full(10, 0.05), r=np.full(10, 2.0), v_leak=np.full(10, 0.1)),
        "out": nir.Output(output_type={"output": np.array([10])}),
    }
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), type_check=False)


def graph_two():
    """Input, Conv2d, Threshold, Flatten (start_dim=1, the PyTorch habit), Affine,
    IF, Linear, I, Output."""
    rng = np.random.RandomState(1)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([1, 28, 28])}),
        "c": nir.Conv2d(input_shape=(28, 28), weight=rng.randn(2, 1, 5, 5), stride=3,
                        padding=0, dilation=1, groups=1, bias=np.zeros(2)),
        "t": nir.Threshold(threshold=np.full((2, 8, 8), 0.5)),
        "f": nir.Flatten(input_type={"input": np.array([2, 8, 8])}, start_dim=1),
        "a": nir.Affine(weight=rng.randn(16, 128), bias=np.zeros(16)),
        "n": nir.IF(r=np.full(16, 1.5), v_threshold=np.full(16, 2.0)),
        "l": nir.Linear(weight=rng.randn(10, 16)),
        "i": nir.I(r=np.full(10, 0.5)),
        "out": nir.Output(output_type={"output": np.array([10])}),
    }
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), type_check=False)


def test_every_node_type_is_imported_as_nir_defines_it():
    from nengo_vision.interop.nir_import import IF_TAU, SUPPORTED, network_from_nir

    g1, g2 = graph_one(), graph_two()
    seen = {type(n).__name__ for g in (g1, g2) for n in g.nodes.values()}
    assert seen == set(SUPPORTED)

    with pytest.warns(UserWarning, match="start_dim=1"):
        two = network_from_nir(g2, dt=DT)
    one = network_from_nir(g1, dt=DT)
    L = one.network.layers
    assert [(k, l.kind) for k, l in L.items()] == [
        ("in", "input"), ("c1", "conv2d"), ("p1", "avgpool"), ("c2", "conv2d"),
        ("p2", "avgpool"), ("f", "flatten"), ("a1", "dense"), ("l1", "dense")]
    # LIF: J = (r I + v_leak) / v_th, so weights * 4 and bias 0.5 * 4 + 0.2
    w1 = g1.nodes["c1"].weight
    np.testing.assert_allclose(L["c1"].kernel, np.transpose(w1, (2, 3, 1, 0)) * 4, rtol=1e-6)
    np.testing.assert_allclose(L["c1"].bias, 0.5 * 4 + 0.1 / 0.5, rtol=1e-6)
    assert L["c1"].padding == "same" and L["c1"].neuron.tau_rc == 0.02
    assert L["c1"].neuron.amplitude == DT and L["c1"].neuron.tau_ref == 0
    # SumPool2d (x 4, the window's area) and Scale (x 0.5) in c2; CubaLIF's w_in x 3
    np.testing.assert_allclose(L["c2"].kernel,
                               np.transpose(g1.nodes["c2"].weight, (2, 3, 1, 0)) * 4 * 0.5 * 3,
                               rtol=1e-6)
    assert L["c2"].neuron.tau_rc == 0.03 and one.settings["synapse"] == 0.004
    # Flatten reorders (c, h, w) → (h, w, c); r / v_threshold into the weights
    k = L["a1"].kernel  # (216, 20) in (h, w, c) order
    np.testing.assert_allclose(k[(2 * 6 + 3) * 6 + 1],
                               g1.nodes["a1"].weight[:, 1 * 36 + 2 * 6 + 3] * 1.5 / 2,
                               rtol=1e-6)
    assert L["a1"].neuron.tau_rc == 0.05
    # LI before Output: the readout filter; r and v_leak into the last layer
    assert one.settings["output_synapse"] == 0.05
    np.testing.assert_allclose(L["l1"].kernel, g1.nodes["l1"].weight.T * 2, rtol=1e-6)
    np.testing.assert_allclose(L["l1"].bias, 0.1, rtol=1e-6)
    T = two.network.layers
    assert T["c"].neuron.tau_rc == 0.001 / 10 and T["c"].strides == (3, 3)
    np.testing.assert_allclose(T["c"].kernel,
                               np.transpose(g2.nodes["c"].weight, (2, 3, 1, 0)) / 0.5, rtol=1e-6)
    assert two.settings == dict(output_synapse=None, readout="integrate", synapse=None,
                                input_synapse=None)
    # IF is a LIF of tau 1000 s: J = tau r I / v_threshold
    assert T["a"].neuron.tau_rc == IF_TAU
    np.testing.assert_allclose(T["a"].kernel[(2 * 8 + 3) * 2 + 1],
                               g2.nodes["a"].weight[:, 1 * 64 + 2 * 8 + 3] * IF_TAU * 1.5 / 2,
                               rtol=1e-6)
    np.testing.assert_allclose(T["l"].kernel, g2.nodes["l"].weight.T * 0.5, rtol=1e-6)


def test_nir_graph_runs_through_every_backend(tmp_path, capsys, data_dir):
    """``--model graph.nir``: no training, the graph's settings, Nengo as the
    reference, and NengoDL, the Loihi emulator and NengoLoihi's emulator run it."""
    path = tmp_path / "one.nir"
    nir.write(path, graph_one())
    out = tmp_path / "run"
    status = main(["--model", str(path), "--data-dir", str(data_dir), "--n-test", "6",
                   "--n-steps", "10", "--backends",
                   "keras,nengo,nengo-dl,loihi-emulator,nengo-loihi-emulator",
                   "--digits", "nengo-loihi-emulator=2", "--out", str(out), "--no-progress"])
    assert status == 0
    import json

    results = json.loads((out / "results.json").read_text())
    assert results["training"]["epochs"] == 0
    assert results["reference"] == "nengo"
    assert results["synapse"] == 0.004 and results["output_synapse"] == 0.05
    for name in ("nengo", "nengo-dl", "loihi-emulator", "nengo-loihi-emulator"):
        assert name in results["backends"]


@pytest.mark.parametrize("case, expected", [
    ("delay", "NIR node 'd' is a Delay, which cannot run here; supported node types: "
              "Input, Output, Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale, "
              "LIF, IF, LI, CubaLIF, I, Threshold"),
    ("corrupt", "cannot read NIR graph {path}: "),
    ("shape", "NIR graph {path} takes inputs of shape (2, 34, 34) (channels, height, width), "
              "but mnist gives (28, 28, 1) (height, width, channels); choose a data set of "
              "its shape with --dataset"),
    ("reset", "NIR LIF 'n': v_reset is not 0; Loihi resets the voltage to zero: shift "
              "v_leak and v_threshold by -v_reset"),
    ("scale", "NIR node 's' (Scale) cannot be read: "),
    ("twice", "NIR edge 'a' → 'n' is listed twice; list each edge once"),
])
def test_bad_graphs_are_refused_in_one_line(case, expected, tmp_path, capsys, data_dir):
    path = tmp_path / "bad.nir"
    if case == "corrupt":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(200)))
    else:
        shape = (2, 34, 34) if case == "shape" else (1, 28, 28)
        nodes = {
            "in": nir.Input(input_type={"input": np.array(shape)}),
            "f": nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0),
            "a": nir.Affine(weight=np.ones((10, int(np.prod(shape)))), bias=np.zeros(10)),
            "n": _lif(10, v_reset=0.5 if case == "reset" else 0.0),
            "out": nir.Output(output_type={"output": np.array([10])}),
        }
        if case == "delay":
            nodes["d"] = nir.Delay(delay=np.ones(10))
        if case == "scale":  # a Scale of 3 values on 784
            nodes = dict(list(nodes.items())[:2] + [("s", nir.Scale(scale=np.ones(3)))]
                         + list(nodes.items())[2:])
        order = list(nodes)
        edges = list(zip(order, order[1:])) + ([("a", "n")] if case == "twice" else [])
        nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    out = tmp_path / "run"
    status, err = run_main(capsys, "--model", str(path), "--data-dir", str(data_dir),
                           "--out", str(out))
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"{PROG}: error: {expected.format(path=path)}")
    assert not out.exists()


def test_export_nir_is_refused_before_work_when_unwritable(tmp_path, capsys):
    folder = tmp_path / "graphs"
    folder.mkdir()
    out = tmp_path / "run"
    status, err = run_main(capsys, "--export-nir", str(folder), "--out", str(out))
    assert_one_line_error(status, err, f"--export-nir {folder} is a folder; give a file "
                                       f"name (graph.nir)")
    assert not out.exists()


# ------------------------------------------------------------------ Norse

def pooled_model(path):
    """A convolutional network with average pooling, saved as a Keras file."""
    import tensorflow as tf

    L = tf.keras.layers
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(8, 3, activation="relu")(inp)
    x = L.AveragePooling2D(2)(x)
    x = L.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = L.Flatten()(x)
    out = L.Dense(10)(x)
    tf.keras.Model(inp, out).save(path)


@pytest.mark.slow
def test_norse_agrees_with_nengo_on_a_pooled_cnn(tmp_path, data_dir, cache_dir, capsys):
    """Trained here without a refractory period (--tau-ref 0) and within a 60 Hz
    spike budget, exported, run in
    Norse: the class of at least 99 % of 200 real digits is Nengo's, and the
    layers' spike counts within 20 % of Nengo's (Norse, without the voltage floor
    and with Euler steps, fires 2-14 % more: measured 2026-12-06); on the same
    digits sent as Poisson spikes, at least 97 % the same class."""
    pytest.importorskip("norse")
    import json

    path = tmp_path / "pooled.keras"
    pooled_model(path)
    out = tmp_path / "run"
    status = main(["--model", str(path), "--data-dir", str(data_dir), "--cache-dir",
                   str(cache_dir), "--tau-ref", "0", "--spike-budget", "60",
                   "--n-train", "20000", "--epochs", "2",
                   "--augment", "0", "--n-test", "200", "--n-steps", "30",
                   "--backends", "keras,nengo,norse", "--export-nir",
                   str(tmp_path / "pooled.nir"), "--out", str(out), "--no-progress"])
    assert status == 0
    assert (tmp_path / "pooled.nir").is_file()
    results = json.loads((out / "results.json").read_text())
    backends = results["backends"]
    assert backends["nengo"]["accuracy"] > 0.9
    agreement = results["agreement"]["nengo"]["norse"]
    assert agreement >= 0.99
    for layer, hz in backends["nengo"]["firing_rates"].items():
        assert abs(backends["norse"]["firing_rates"][layer] / hz - 1) < 0.20, layer
    # the same digits as Poisson spikes: Norse takes the same spikes
    out = tmp_path / "spikes"
    status = main(["--model", str(path), "--data-dir", str(data_dir), "--cache-dir",
                   str(cache_dir), "--tau-ref", "0", "--spike-budget", "60",
                   "--n-train", "20000", "--epochs", "2", "--augment", "0", "--n-test", "200",
                   "--n-steps", "30", "--encoding", "poisson", "--backends", "nengo,norse",
                   "--out", str(out), "--no-progress"])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["agreement"]["nengo"]["norse"] >= 0.97


def test_a_foreign_graph_comes_back_exactly_from_a_run(tmp_path, data_dir):
    """A graph from elsewhere, run here (Python API), then written by the run's
    ``Result.export_nir``: read again, the same network to the last bit."""
    import nengo_vision as nv
    from nengo_vision.deploy.network import from_keras, to_keras
    from nengo_vision.interop.nir_import import network_from_nir, read_graph

    path = tmp_path / "two.nir"
    nir.write(path, graph_two())
    with pytest.warns(UserWarning, match="start_dim=1"):
        result = nv.run(nv.Config(model=str(path), data_dir=str(data_dir), n_test=4,
                                  n_steps=5, backends=["nengo"], progress=False),
                        log=lambda *a: None)
    assert result.neuron["type"] == "the graph's"
    assert result.neuron["layers"]["a"]["tau_rc"] == 1000.0
    again = tmp_path / "again.nir"
    with pytest.warns(UserWarning):
        result.export_nir(again)
    first = from_keras(result.model_object)
    second = from_keras(to_keras(network_from_nir(read_graph(again)).network))
    for la, lb in zip(first.layers.values(), second.layers.values()):
        assert la.neuron == lb.neuron
        if la.kernel is not None:
            np.testing.assert_array_equal(la.kernel, lb.kernel)
            np.testing.assert_array_equal(la.bias, lb.bias)


def test_layers_without_bias_and_a_first_layer_behind_a_flatten(tmp_path):
    """A dense network on flattened pixels, without biases: the first layer is
    fed by the input (its synapse is --input-synapse), biases stay absent."""
    import tensorflow as tf

    from nengo_vision.deploy.network import from_keras
    from nengo_vision.neurons import LIFActivation

    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1))
    x = L.Flatten()(inp)
    x = L.Dense(32, activation=LIFActivation(), use_bias=False, name="hidden")(x)
    model = tf.keras.Model(inp, L.Dense(10, use_bias=False, name="out")(x), name="mlp")
    back, imported = round_trip(model, tmp_path, synapse=0.002, input_synapse=0.01)
    g = nir.read(tmp_path / "mlp.nir")
    assert type(g.nodes["hidden.neurons"]).__name__ == "CubaLIF"
    assert g.nodes["hidden.neurons"].tau_syn.flat[0] == 0.01
    assert imported.settings == dict(input_synapse=0.01, synapse=0.002)
    layers = from_keras(back).layers
    assert layers["hidden"].bias is None and layers["out"].bias is None
    np.testing.assert_array_equal(layers["hidden"].kernel,
                                  model.get_layer("hidden").get_weights()[0])


def test_a_concatenation_is_refused_on_export_and_nothing_is_written(tmp_path):
    from nengo_vision.errors import ModelError
    from nengo_vision.interop import export_nir

    import tensorflow as tf

    from nengo_vision.neurons import LIFActivation

    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1))
    a = L.Conv2D(4, 3, strides=2, activation=LIFActivation(), name="a")(inp)
    b = L.Conv2D(4, 3, strides=2, activation=LIFActivation(), name="b")(inp)
    x = L.Conv2D(8, 3, strides=2, activation=LIFActivation(), name="c")(
        L.Concatenate(name="both")([a, b]))
    model = tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten(name="f")(x)), name="wide")
    path = tmp_path / "wide.nir"
    with pytest.raises(ModelError, match="layer both \\(concat\\): NIR has no node for a "
                                         "concatenation"):
        export_nir(model, path)
    assert list(tmp_path.iterdir()) == []
