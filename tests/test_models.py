import pytest

from nengo_vision.errors import ModelError
from nengo_vision.models import get_model, model_names
from nengo_vision.neurons import LIFActivation


def test_registry_lists_scnn_mnist():
    assert "scnn_mnist" in model_names()


def test_unknown_model_lists_known_ones():
    with pytest.raises(ModelError) as e:
        get_model("resnet9000")
    assert str(e.value) == (
        "unknown model 'resnet9000'; known models: rscnn_mnist, scnn_mnist, vgg_mnist, "
        "wscnn_mnist"
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
