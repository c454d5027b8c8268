import pytest

import nengo_vision as nv
from nengo_vision.errors import ModelError
from nengo_vision.models import get_model, model_names
from nengo_vision.neurons import LIFActivation


def test_registry_lists_scnn_mnist():
    assert "scnn_mnist" in model_names()


def test_unknown_model_lists_known_ones():
    with pytest.raises(ModelError) as e:
        get_model("resnet9000")
    assert str(e.value) == (
        "unknown model 'resnet9000'; known models: rscnn_cifar10, rscnn_mnist, scnn, scnn_mnist, scnn_ncaltech101, scnn_nmnist, small_mnist, tiny_mnist, tiny_nmnist, vgg_mnist, "
        "wscnn_cifar10, wscnn_mnist"
    )


def test_scnn_mnist_is_the_report_architecture():
    act = LIFActivation()
    model = get_model("scnn_mnist").build(act)
    shapes = {l.name: l.output_shape[1:] for l in model.layers}
    assert shapes["conv0"] == (26, 26, 32)
    assert shapes["conv1"] == (12, 12, 64)
    assert shapes["conv2"] == (5, 5, 128)
    assert shapes["output"] == (10,)
    assert [l.name for l in model.layers if getattr(l, "activation", None) is act] == [
        "conv0", "conv1", "conv2",
    ]
    assert model.get_layer("conv1").strides == (2, 2)


def test_docs_list_every_supported_layer():
    from pathlib import Path

    from nengo_vision.deploy import LAYERS

    page = (Path(__file__).resolve().parents[1] / "docs" / "keras_models.md").read_text()
    for layer, becomes in LAYERS.items():
        assert f"| {layer} | {becomes} |" in page, layer


@pytest.mark.slow  # placement builds the network several times: 10-30 s each
@pytest.mark.parametrize("name, on_chip", [
    ("rscnn_mnist", ["conv1", "conv1a", "res1", "conv2", "conv2a", "res2"]),
    ("vgg_mnist", ["conv1_2", "conv2_1", "conv2_2", "conv3"]),
])
def test_zoo_models_fold_and_fit_one_chip(name, on_chip):
    """The seeds' architectures, untrained: folded to neurons and weights, and
    placed on one chip before any training. (wscnn_mnist's branches are placed
    in tests/test_layers.py, and the benchmark places all three.)"""
    import tensorflow as tf

    from nengo_vision.backends.loihi import check_placement
    from nengo_vision.deploy import deployable

    model = get_model(name).build(LIFActivation())
    folded = deployable(model)
    kinds = {type(layer) for layer in folded.layers}
    assert not kinds & {tf.keras.layers.BatchNormalization, tf.keras.layers.AveragePooling2D}
    placement = check_placement(model)
    assert [n for n, chip in placement.on_chip.items() if chip] == on_chip


def test_a_model_trains_with_its_own_current_noise_unless_the_run_sets_one():
    vgg, scnn = get_model("vgg_mnist"), get_model("scnn_mnist")
    assert nv.pipeline.activation(nv.Config(), vgg).noise == 1.5
    assert nv.pipeline.activation(nv.Config(), scnn).noise == 0.0
    assert nv.pipeline.activation(nv.Config(train_noise=0), vgg).noise == 0.0
    assert nv.pipeline.activation(nv.Config(train_noise=0.5, neuron="loihi"), scnn).noise == 0.5
