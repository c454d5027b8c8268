"""The Python API: the README's usage as written, the stages one by one, the
typed result, and plots on given Axes."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

import nengo_vision as nv
from test_cli import DATA, REPORT_FILES, key_tree


@pytest.fixture(scope="module")
def readme_result(data_dir, tmp_path_factory, monkeypatch_module):
    """The README's example, as written (data and cache from the environment)."""
    monkeypatch_module.setenv("NENGO_VISION_DATA", str(data_dir))
    monkeypatch_module.setenv("NENGO_VISION_CACHE", str(tmp_path_factory.mktemp("cache")))
    config = nv.Config(model="scnn_mnist", backends=["keras", "nengo-dl", "loihi-emulator"],
                       n_test=100, n_train=6000, epochs=1)
    return nv.run(config)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.slow
def test_readme_example_runs_and_writes_the_command_lines_report(readme_result, tmp_path):
    result = readme_result
    assert list(result.backends) == ["keras", "nengo-dl", "loihi-emulator"]
    emulator = result.backends["loihi-emulator"]
    # one epoch on 6,000 digits: a real but short training (measured: Keras 82 %,
    # NengoDL and the emulator 67 %, agreeing on 99 of 100 digits)
    assert result.backends["keras"].accuracy >= 0.75
    assert emulator.accuracy >= 0.6 and emulator.n_test == 100
    assert isinstance(emulator, nv.result.BackendResult)
    assert emulator.placement.layers["conv0"].where == "host"
    assert emulator.placement.on_chip == ["conv1", "conv2"]
    assert emulator.energy.total_joules > 0 and emulator.run.traces.shape == (100, 30, 10)
    assert result.comparison.agreement["nengo-dl"]["loihi-emulator"] >= 0.95
    out = result.write(tmp_path / "out")
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(REPORT_FILES)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(result.to_dict()))
    # the same keys as the command line's results.json, minus the backends not run
    expected = json.loads((DATA / "results_keys.json").read_text())["keys"]
    got = key_tree(on_disk)
    for name in ("backends", "descriptions", "agreement", "shared_digits"):
        got.pop(name), expected.pop(name)
    assert got == expected
    assert "| loihi-emulator |" in (out / "report.md").read_text()


@pytest.mark.slow
def test_stages_one_by_one_give_the_same_result(readme_result):
    """Train once (from the cache), then run the backends again with the same
    settings: the same traces, so the same metrics (same seed, same results).

    One batch of ``batch_size`` digits: the README's run's first batch, the same
    digits in the same shapes, so equal by construction (a batch of another size
    could take TensorFlow's float32 sums in another order)."""
    n = readme_result.config.batch_size
    config = readme_result.config.replace(backends=["keras", "nengo-dl"], n_test=n)
    data = nv.pipeline.load_data(config)
    assert data.x_train.shape == (6000, 28, 28, 1) and data.images.shape == (n, 28, 28, 1)
    model, training = nv.pipeline.train(config, data, log=lambda line: None)
    assert training["cached"] is True
    result = nv.pipeline.evaluate(config, model, data, training, log=lambda line: None)
    before = readme_result.backends["nengo-dl"].run.traces[:n]
    np.testing.assert_array_equal(result.backends["nengo-dl"].run.traces, before)


@pytest.mark.slow
def test_plots_draw_on_the_given_axes(readme_result):
    from nengo_vision import plots

    fig = Figure()
    ax = fig.subplots()
    plots.accuracy_by_step(ax, readme_result)
    assert len(ax.lines) == 3 and ax.get_ylabel() == "accuracy (%)"
    assert ax.lines[2].get_ydata()[-1] == pytest.approx(
        readme_result.backends["loihi-emulator"].accuracy * 100)
    ax = Figure().subplots()
    plots.raster(ax, readme_result, "loihi-emulator", "conv1", digit=0)
    spikes = readme_result.backends["loihi-emulator"].run.rasters["conv1"][0]
    assert len(ax.collections[0].get_offsets()) == int(np.count_nonzero(spikes))
    fig = Figure()
    assert plots.rasters_figure(fig, readme_result) is fig
    assert len(fig.axes) == 2 * 3  # two spiking backends, three layers


def test_result_of_a_bad_config_is_an_error_not_a_run(tmp_path):
    with pytest.raises(nv.ConfigError, match="last_k 40 is more than n_steps 30"):
        nv.run(nv.Config(last_k=40, cache_dir=str(tmp_path)))
    assert not list(tmp_path.iterdir())
