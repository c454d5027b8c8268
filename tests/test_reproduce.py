"""Settings that reproduce a run: given settings told from defaults and from
what a data set or model filled in, the record results.json keeps (a run from
it: tests/test_reload.py), TOML files of settings."""

import json

import pytest

from nengo_vision import Config, ConfigError


def test_a_setting_given_its_default_is_not_the_default():
    """The pipeline branches on whether a setting was given: an event data set
    streams its whole recordings unless n_steps is given, so the two configs
    run differently and must neither compare nor print alike."""
    default = Config(dataset="mnist-saccades")
    given = Config(dataset="mnist-saccades", n_steps=30)
    assert default.n_steps == given.n_steps == 30
    assert default != given and hash(default) != hash(given)
    assert repr(default) == "Config(dataset='mnist-saccades')"
    assert repr(given) == "Config(dataset='mnist-saccades', n_steps=30)"
    assert Config(n_steps=30, seed=1) == Config(seed=1, n_steps=30)
    assert hash(Config(backends="keras,nengo")) == hash(Config(backends=["keras", "nengo"]))
    assert len({Config(), Config(), Config(n_steps=30)}) == 2


def test_filled_settings_are_told_from_given_ones():
    config = Config(dataset="mnist-saccades", seed=3)
    filled = config.fill("data set mnist-saccades", n_steps=300, seed=9)
    assert filled.n_steps == 300 and filled.seed == 3  # a given setting is kept
    assert not Config.n_steps.is_set(filled)
    assert filled.sources()["n_steps"] == "data set mnist-saccades"
    assert filled.sources()["seed"] == "given" and filled.sources()["epochs"] == "default"
    assert filled != config and filled != Config(dataset="mnist-saccades", seed=3, n_steps=300)
    assert repr(filled) == ("Config(dataset='mnist-saccades', seed=3) filled in: "
                            "n_steps=300 (data set mnist-saccades)")
    # giving it later makes it given
    assert Config.n_steps.is_set(filled.replace(n_steps=300))


def test_record_reads_back_to_an_equal_config():
    config = Config(
        digits="nengo=5", dog_sigma=(1, 3), test_noise="gaussian:0.1,salt-pepper:0.05",
        spike_budget="conv0=20,conv1=10", input_synapse="none", backends="keras,nengo",
        image_size="32x32", classes="a,b", data_dir=None,
    ).fill("data set folder", n_test=12)
    record = json.loads(json.dumps(config.record()))  # through JSON, as results.json
    assert set(record["given"]) == {
        "digits", "dog_sigma", "test_noise", "spike_budget", "input_synapse", "backends",
        "image_size", "classes", "data_dir"}
    assert record["filled"] == {"n_test": {"value": 12, "from": "data set folder"}}
    assert record["values"]["n_test"] == 12 and record["values"]["seed"] == 0
    assert set(record["values"]) == set(Config.settings())
    back = Config.from_dict(record)
    assert back == config and back.to_dict() == config.to_dict()
    # a plain table of settings: all given
    assert Config.from_dict({"n_steps": 50}) == Config(n_steps=50)


def test_record_with_an_unknown_or_bad_setting_is_one_line():
    with pytest.raises(ConfigError, match=r"^Config has no setting 'n_stepz'; settings: model, "):
        Config.from_dict({"given": {"n_stepz": 3}, "filled": {}})
    with pytest.raises(ConfigError, match=r"^Config.n_steps must be a positive integer, got 0$"):
        Config.from_dict({"given": {"n_steps": 0}})


def test_toml_round_trip(tmp_path):
    config = Config(
        digits="nengo=5", dog_sigma=(1, 3), test_noise="gaussian:0.1", data_dir=None,
        spike_budget="conv0=3", input_synapse=None, backends="nengo,keras", n_steps=40,
        decision_margin=0.5, lr_decay=False,
    )
    path = tmp_path / "run.toml"
    config.save_toml(path)
    text = path.read_text()
    assert 'input_synapse = "none"' in text and "n_steps = 40" in text
    assert "seed" not in text  # defaults stay out: a file says what was chosen
    assert Config.from_toml(path) == config
    # dashes as on the command line are accepted too
    (tmp_path / "dashes.toml").write_text('n-steps = 40\nbackends = "keras"\n')
    assert Config.from_toml(tmp_path / "dashes.toml") == Config(n_steps=40, backends="keras")


@pytest.mark.parametrize("text, message", [
    ("n_steps = 0\n", "config file {}: Config.n_steps must be a positive integer, got 0"),
    ("n_steps = [\n", "config file {} is not valid TOML: Invalid value (at end of document)"),
    ("nsteps = 3\n", "config file {}: Config has no setting 'nsteps'; settings: model, "),
])
def test_bad_toml_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        Config.from_toml(path)
    assert str(e.value).startswith(message.format(path)) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="cannot read config file .*missing.toml: No such file"):
        Config.from_toml(tmp_path / "missing.toml")
