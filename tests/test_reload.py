"""A written run read back (``Result.load``), its report written again, and two
runs compared (``nv.compare_runs``), on small real runs: ``tiny_mnist`` trained
for one epoch on 2,000 real MNIST digits, 20 test digits through Keras and the
Loihi emulator. The errors for a folder that cannot be read back need no run."""

import json
import shutil

import numpy as np
import pytest

import nengo_vision as nv
from nengo_vision.energy import EnergyAccount
from nengo_vision.errors import DataError, ModelError
from nengo_vision.metrics import readout_scores
from nengo_vision.report.compare import (
    BackendComparison, Figures, SettingDifference, compare_and_write, setting_differences,
)
from nengo_vision.report.load import load_result, rewrite_report
from nengo_vision.result import BackendResult, Decision, Latency, Placement, TraceError

SETTINGS = dict(model="tiny_mnist", backends=["keras", "loihi-emulator"], n_test=20,
                n_train=2000, epochs=1, progress=False)


def quiet(line):
    pass


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    """Run A (the default synapse) and run B (``synapse=0.005`` given), each
    written to a folder; B reuses A's trained model from the cache."""
    cache, out = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("runs")
    settings = dict(SETTINGS, cache_dir=str(cache), data_dir=str(data_dir))
    a = nv.run(nv.Config(**settings), log=quiet)
    b = nv.run(nv.Config(**settings, synapse=0.005), log=quiet)
    return a, a.write(out / "a"), b, b.write(out / "b")


@pytest.fixture(scope="module")
def loaded(runs):
    return nv.Result.load(runs[1])


@pytest.mark.slow
def test_a_loaded_run_holds_what_the_run_held(runs, loaded):
    run, _, _, _ = runs
    assert loaded.config == run.config
    assert loaded.config.record() == run.config.record()
    assert loaded.model_object is None and run.model_object is not None
    for name in ("model", "model_source", "dataset", "training", "calibration", "neuron",
                 "dt", "classes", "noise", "date", "machine", "plots", "tables"):
        assert getattr(loaded, name) == getattr(run, name), name
    for name in ("images", "labels", "indices"):
        got, want = getattr(loaded, name), getattr(run, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert loaded.recording.n_digits == run.recording.n_digits
    assert loaded.recording.voltage[0] == run.recording.voltage[0]
    assert np.array_equal(loaded.recording.voltage[1], run.recording.voltage[1])
    assert loaded.recording.raster.keys() == run.recording.raster.keys()
    for layer, idx in run.recording.raster.items():
        assert np.array_equal(loaded.recording.raster[layer], idx)
    assert loaded.comparison.operations == run.comparison.operations
    for name in ("agreement", "shared_digits", "reference", "readout_rules",
                 "energy_sources"):
        assert getattr(loaded.comparison, name) == getattr(run.comparison, name), name

    assert list(loaded.backends) == ["keras", "loihi-emulator"]
    for name, want in run.backends.items():
        got = loaded.backends[name]
        assert isinstance(got, BackendResult) and isinstance(got.latency, Latency)
        assert isinstance(got.trace_error, TraceError) and isinstance(got.decision, Decision)
        assert isinstance(got.energy, EnergyAccount)
        assert got.energy == want.energy and got.latency == want.latency
        assert got.placement == want.placement
        assert got.to_dict() == want.to_dict()
        # the raw run: traces and voltages as float32 (as traces.npz keeps them),
        # the rest exactly
        a, b = got.run, want.run
        assert np.array_equal(a.traces, b.traces.astype(np.float32))
        assert a.firing_rates == b.firing_rates and a.spiking == b.spiking
        assert a.placement == b.placement
        assert a.input_spikes is None and b.input_spikes is None  # images held
        for layer in b.spike_counts:
            assert np.array_equal(a.spike_counts[layer], b.spike_counts[layer])
        for layer in b.rasters:
            assert a.rasters[layer].dtype == b.rasters[layer].dtype
            assert np.array_equal(a.rasters[layer], b.rasters[layer])
        if b.voltages is None:
            assert a.voltages is None
        else:
            assert np.array_equal(a.voltages, b.voltages.astype(np.float32))
        assert (a.step_counts is None) == (b.step_counts is None)
        for tally, counts in (b.step_counts or {}).items():
            assert np.array_equal(a.step_counts[tally], counts)
    emulator = loaded.backends["loihi-emulator"]
    assert isinstance(emulator.placement, Placement)
    assert emulator.placement.on_chip == ["conv1"]
    assert emulator.run.rasters["conv1"].shape == (3, 30, 50)
    assert emulator.run.voltages.shape == (3, 30, 4)
    assert set(emulator.run.step_counts) >= {"chip_synops", "idle_updates"}


@pytest.mark.slow
def test_the_loaded_traces_give_the_recorded_accuracy_on_real_digits(loaded):
    for name, b in loaded.backends.items():
        scores = readout_scores(b.run.traces, loaded.output_filter, loaded.dt,
                                loaded.config.readout)
        accuracy = np.mean(scores[:, -1].argmax(-1) == loaded.labels[: b.n_test])
        assert accuracy == b.accuracy, name
        # one epoch on 2,000 digits: well above chance (0.1) on 20 real test digits
        assert accuracy >= 0.3, name


@pytest.mark.slow
def test_a_loaded_run_cannot_export_its_network(loaded, tmp_path):
    with pytest.raises(ModelError) as e:
        loaded.export_nir(tmp_path / "net.nir")
    assert str(e.value) == ("this result holds no model (it was read from a file); "
                            "export from the run that made it")


@pytest.mark.slow
def test_the_report_written_again_is_the_same_file_for_file(runs, loaded, tmp_path):
    _, first, _, _ = runs
    again = loaded.write(tmp_path / "again")
    files = sorted(p.name for p in first.iterdir())
    assert sorted(p.name for p in again.iterdir()) == files
    assert {"results.json", "report.md", "backends.csv", "energy.csv", "rasters.png",
            "class_outputs.png", "traces.npz"} <= set(files)
    for name in files:
        if name != "traces.npz":  # compressed: its arrays are compared below
            # text files and PNGs alike, byte for byte: the plots are drawn from
            # the float32 traces traces.npz keeps, and savefig writes no date
            assert (again / name).read_bytes() == (first / name).read_bytes(), name
    with np.load(first / "traces.npz") as x, np.load(again / "traces.npz") as y:
        assert x.files == y.files
        for key in x.files:
            assert x[key].dtype == y[key].dtype and np.array_equal(x[key], y[key]), key


@pytest.mark.slow
def test_rewrite_report_writes_in_place_by_default(runs, tmp_path):
    _, first, _, _ = runs
    folder = shutil.copytree(first, tmp_path / "run")
    (folder / "report.md").unlink()
    assert rewrite_report(folder) == folder
    assert (folder / "report.md").read_text() == (first / "report.md").read_text()


@pytest.mark.slow
def test_two_runs_compared_name_the_one_setting_that_differs(runs):
    run_a, a, run_b, b = runs
    c = nv.compare_runs(a, b)
    assert c.names == (str(a), str(b))
    assert c.settings == [SettingDifference("synapse", 0.002, 0.005, "default", "given")]
    assert [x.name for x in c.backends] == ["keras", "loihi-emulator"]
    emulator = c.backends[1]
    want_a, want_b = run_a.backends["loihi-emulator"], run_b.backends["loihi-emulator"]
    assert emulator.a.accuracy == want_a.accuracy and emulator.b.accuracy == want_b.accuracy
    assert emulator.a.stderr == want_a.stderr
    assert emulator.difference("accuracy") == want_b.accuracy - want_a.accuracy
    assert emulator.a.energy_uj == want_a.energy.total_joules * 1e6
    assert emulator.b.spikes == sum(want_b.spikes_per_inference.values())
    synops = [sum(r.synops_per_inference.values()) for r in (want_a, want_b)]
    assert emulator.difference("synops") == synops[1] - synops[0]
    change = synops[1] - synops[0]
    assert ["synaptic ops / inference", f"{synops[0]:,.0f}", f"{synops[1]:,.0f}",
            f"{change:+,.0f} ({change / synops[0] * 100:+.1f} %)"] in emulator.rows()
    # the synapse is not the ANN's: Keras reads the same digits the same way
    keras = c.backends[0]
    assert keras.difference("accuracy") == 0 and not keras.beyond_noise
    assert keras.a.spikes is None and keras.difference("spikes") is None
    # from the Results in memory: the same comparison, the runs called A and B
    same = nv.compare_runs(run_a, run_b)
    assert same.settings == c.settings and same.backends == c.backends
    assert same.names == ("A", "B")

    text = c.to_text()
    assert "Settings that differ (1):" in text
    assert "  synapse  0.002 (default)  0.005 (given)" in text.splitlines()
    md = c.to_markdown()
    assert "| `synapse` | 0.002 (default) | 0.005 (given) |" in md.splitlines()
    assert sum(line.startswith("| `") for line in md.splitlines()) == 3  # 1 setting, 2 backends
    assert c.write(a.parent / "a-vs-b.md").read_text() == md
    # the command line's part: the text back, the Markdown to the file
    assert compare_and_write(a, b, a.parent / "cli.md") == text
    assert (a.parent / "cli.md").read_text() == md


@pytest.mark.slow
def test_a_run_compared_with_itself_differs_in_nothing(runs):
    _, a, _, _ = runs
    c = nv.compare_runs(a, a)
    assert c.settings == []
    assert all(x.difference("accuracy") == 0 and x.difference("seconds") == 0
               for x in c.backends)
    assert "The settings are the same." in c.to_text()


def test_the_data_set_and_the_model_come_first_and_say_where_they_came_from():
    a = nv.Config(synapse=0.005, n_test=50)
    b = nv.Config(dataset="mnist-saccades", n_test=50).fill(
        "data set mnist-saccades", model="scnn_nmnist", input_synapse=0.01)
    diffs = setting_differences(a, b)
    assert diffs[:2] == [
        SettingDifference("dataset", "mnist", "mnist-saccades", "default", "given"),
        SettingDifference("model", "scnn_mnist", "scnn_nmnist", "default",
                          "filled from data set mnist-saccades"),
    ]
    assert {d.name for d in diffs[2:]} == {"input_synapse", "synapse"}
    assert setting_differences(a, a) == []


def test_a_backend_in_one_run_only_has_no_differences():
    f = Figures(n_test=10, accuracy=0.9, stderr=0.09, latency_steps=None, steps=None,
                spikes=None, synops=None, energy_uj=0.4, seconds=1.0)
    c = BackendComparison("keras", f, None)
    assert c.difference("accuracy") is None and c.beyond_noise is None
    assert c.rows()[1] == ["accuracy", "90.00 ± 9.00 %", "—", "—"]
    # latency, steps, spikes and synops are None in both: not shown
    assert [row[0] for row in c.rows()] == ["digits", "accuracy",
                                            "energy / inference (µJ)", "wall time (s)"]


# ------------------------------------------------------------ folders that cannot be read


def test_a_folder_without_results_json_is_named(tmp_path):
    with pytest.raises(DataError) as e:
        nv.Result.load(tmp_path)
    assert str(e.value) == (f"{tmp_path / 'results.json'} not found: give the folder a run "
                            f"wrote its report to")
    with pytest.raises(DataError) as e:
        nv.compare_runs(tmp_path / "missing", tmp_path)
    assert str(e.value).startswith(f"{tmp_path / 'missing' / 'results.json'} not found")


def test_a_corrupt_results_json_is_named(tmp_path):
    (tmp_path / "results.json").write_text('{"model": "tiny_mnist", ')  # cut short
    with pytest.raises(DataError) as e:
        load_result(tmp_path)
    assert str(e.value) == (f"{tmp_path / 'results.json'} is corrupt (Expecting property "
                            f"name enclosed in double quotes); write the report again "
                            f"from the run, or run it again")
    (tmp_path / "results.json").write_text("[]")
    with pytest.raises(DataError) as e:
        load_result(tmp_path)
    assert str(e.value) == (f"{tmp_path / 'results.json'} is corrupt (not a JSON object); "
                            f"write the report again from the run, or run it again")


@pytest.mark.slow
def test_a_folder_of_an_older_version_says_what_it_lacks(runs, tmp_path):
    _, first, _, _ = runs
    folder = shutil.copytree(first, tmp_path / "old")
    results = json.loads((folder / "results.json").read_text())
    del results["config"]  # as every version before Config.record wrote it
    (folder / "results.json").write_text(json.dumps(results))
    with pytest.raises(DataError) as e:
        nv.Result.load(folder)
    assert str(e.value) == (
        f"{folder / 'results.json'} was written by an older version of nengo_vision: it has "
        f"no \"config\" entry (the settings the run ran with); run it again to read it back")


@pytest.mark.slow
def test_a_corrupt_or_missing_traces_npz_is_named(runs, tmp_path):
    _, first, _, _ = runs
    folder = shutil.copytree(first, tmp_path / "run")
    npz = folder / "traces.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    with pytest.raises(DataError) as e:
        nv.Result.load(folder)
    assert str(e.value) == (f"{npz} is corrupt (BadZipFile: File is not a zip file); write "
                            f"the report again from the run, or run it again")
    npz.unlink()
    with pytest.raises(DataError) as e:
        nv.Result.load(folder)
    assert str(e.value) == (f"{npz} not found: the report is incomplete; write it again "
                            f"from the run, or run it again")
    # traces.npz of a version that kept no test images
    with np.load(first / "traces.npz") as t:
        np.savez(npz, **{k: t[k] for k in t.files if k != "images"})
    with pytest.raises(DataError) as e:
        nv.Result.load(folder)
    assert str(e.value) == (f"{npz} was written by an older version of nengo_vision: it has "
                            f"no test images; run it again to read it back")


@pytest.mark.slow
def test_results_json_gives_back_the_config_and_the_same_numbers(runs):
    """results.json → Config.from_dict → the run's config; run again from it
    alone → the same numbers (the training found in the cache under the same
    key: every setting that trains is in the record)."""
    run, folder, _, _ = runs
    written = json.loads((folder / "results.json").read_text())["config"]
    back = nv.Config.from_dict(written)
    assert back == run.config and back.given() == run.config.given()
    assert written["filled"]["train_noise"] == {"value": 0.0, "from": "model tiny_mnist"}
    assert written["values"]["n_steps"] == 30 and written["values"]["epochs"] == 1
    again = nv.run(back, log=quiet)
    assert again.training["cached"] is True and again.config == run.config
    for name, b in run.backends.items():
        np.testing.assert_array_equal(again.backends[name].run.traces, b.run.traces)
        assert again.backends[name].accuracy == b.accuracy


@pytest.mark.slow
def test_report_and_compare_on_the_command_line(runs, tmp_path, capsys):
    from nengo_vision.cli import main

    _, a, _, b = runs
    assert main(["report", str(a), "--out", str(tmp_path / "again"), "-q"]) == 0
    assert (tmp_path / "again" / "report.md").read_text() == (a / "report.md").read_text()
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "ab.md")]) == 0
    out = capsys.readouterr().out
    assert out == compare_and_write(a, b) + "\n"
    assert (tmp_path / "ab.md").read_text() == nv.compare_runs(a, b).to_markdown()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err == (
        f"nengo-vision: error: {tmp_path / 'nothing' / 'results.json'} not found: give the "
        f"folder a run wrote its report to\n")
