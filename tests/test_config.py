"""Config: every setting checked where it is set, errors that name it; the
command line's options are the config's settings."""

import argparse
import subprocess
import sys

import pytest

import nengo_vision as nv
from nengo_vision.config import DEFAULT_BACKENDS
from nengo_vision.convert import make_parser


def test_defaults_are_the_main_job():
    c = nv.Config()
    assert c.model == "scnn_mnist" and c.dataset == "mnist"
    assert c.backends == list(DEFAULT_BACKENDS) and c.n_test == 10000
    assert c.n_steps == 30 and c.epochs == 10 and c.train_batch_size == 64
    assert c.augment == 2 and c.lr_decay is True and c.synapse == 0.002
    assert c.n_digits("loihi-emulator") == 10000 and c.n_digits("nengo-dl") == 1000
    assert c.reference_backend == "keras"


@pytest.mark.parametrize("setting, value, message", [
    ("n_steps", 0, "Config.n_steps must be a positive integer, got 0"),
    ("n_test", 2.5, "Config.n_test must be a positive integer, got 2.5"),
    ("n_test", True, "Config.n_test must be a positive integer, got True"),
    ("seed", -1, "Config.seed must be an integer from 0 to 4294967295, got -1"),
    ("gain", float("nan"), "Config.gain must be a positive number, got nan"),
    ("synapse", -0.1, "Config.synapse must be a positive time constant in seconds, or "
                      "'none' for no filter, got -0.1"),
    ("augment", 9, "Config.augment must be a whole number of pixels from 0 to 4, got 9"),
    ("neuron", "izhikevich", "Config.neuron must be one of lif, loihi, got 'izhikevich'"),
    ("backends", "keras,tpu", "Config.backends names unknown backend 'tpu'; known backends: "
                              "keras, nengo-dl-rate, nengo-dl, nengo, norse, nengo-dl-loihi, "
                              "loihi-emulator, nengo-loihi-emulator, loihi"),
    ("backends", [], "Config.backends is empty; name at least one backend"),
    ("digits", {"nengo": 0}, "Config.digits must be BACKEND=N pairs separated by commas, N "
                             "a positive integer, got {'nengo': 0}"),
    ("retrain", "yes", "Config.retrain must be True or False, got 'yes'"),
    ("train_noise", -0.5, "Config.train_noise must be a number of 0 or more, got -0.5"),
])
def test_bad_value_is_refused_where_it_is_set(setting, value, message):
    with pytest.raises(nv.ConfigError) as e:
        nv.Config(**{setting: value})
    assert str(e.value) == message
    config = nv.Config()
    with pytest.raises(nv.ConfigError):
        setattr(config, setting, value)
    assert getattr(config, setting) == nv.Config.settings()[setting].default


def test_misspelt_setting_is_refused():
    with pytest.raises(nv.ConfigError, match="Config has no setting 'nsteps'; settings: model,"):
        nv.Config(nsteps=10)
    config = nv.Config()
    with pytest.raises(nv.ConfigError, match="Config has no setting 'epoch'"):
        config.epoch = 3


def test_values_are_normalised():
    c = nv.Config(backends="keras, nengo", digits="nengo=5", synapse="none", n_test="12")
    assert c.backends == ["keras", "nengo"] and c.digits == {"nengo": 5}
    assert c.synapse is None and c.n_test == 12 and c.n_digits("nengo") == 5
    assert c.replace(n_test=3).n_digits("nengo") == 3  # never more than n_test
    assert c.replace(n_test=3) == nv.Config(backends=["keras", "nengo"], digits={"nengo": 5},
                                            synapse=None, n_test=3)


@pytest.mark.parametrize("settings, message", [
    (dict(last_k=40), "last_k 40 is more than n_steps 30; average at most the 30 steps there are"),
    # an event data set's recordings last 300 steps unless n_steps is given
    (dict(dataset="mnist-saccades", last_k=400),
     "last_k 400 is more than n_steps 300; average at most the 300 steps there are"),
    (dict(dataset="mnist-saccades", last_k=50, n_steps=40),
     "last_k 50 is more than n_steps 40; average at most the 40 steps there are"),
    (dict(backends=["keras"], digits={"nengo": 5}),
     "digits names nengo, which is not among backends (keras); name a backend that runs"),
    (dict(workers=2, scheduler="tcp://127.0.0.1:8786"),
     "workers and scheduler both given; choose one"),
    (dict(backends=["keras"], reference="nengo"),
     "reference nengo is not one of the backends run (keras); choose one of them or add it "
     "to backends"),
])
def test_settings_that_clash(settings, message):
    with pytest.raises(nv.ConfigError) as e:
        nv.Config(**settings).check()
    assert str(e.value) == message


def test_last_k_fits_an_event_recording():
    nv.Config(dataset="mnist-saccades", last_k=50).check()  # 50 of its 300 steps


def test_every_setting_is_an_option_with_its_help():
    """The command line offers each setting under its own name, with the
    config's default (the defaults live in one place)."""
    parser = make_parser()
    options = {a.dest: a for a in parser._actions}
    for name, setting in nv.Config.settings().items():
        if not setting.option:
            continue
        assert options[name].option_strings == [setting.option]
        assert setting.help.split()[0] in options[name].help
        if setting.show_default:
            default = setting.default
            shown = ",".join(default) if isinstance(default, list) else default
            assert options[name].help.endswith(f"(default: {shown})"), name
    # every default is Config's (the command's own options aside)
    assert parser.parse_args([]) == argparse.Namespace(out=None, config_file=None,
                                                       save_config=None)
    args = vars(parser.parse_args(["--n-test", "7", "--synapse", "none", "--retrain"]))
    assert [args.pop(k) for k in ("out", "config_file", "save_config")] == [None] * 3
    assert nv.Config(**args) == nv.Config(n_test=7, synapse=None, retrain=True)


def test_import_is_light_and_changes_no_global_state():
    """Importing the package loads neither TensorFlow nor pyplot, and leaves
    matplotlib's backend alone; --help answers fast for the same reason."""
    # (reading rcParams['backend'] would resolve it, importing pyplot: read the raw value)
    code = (
        "import sys, matplotlib; backend = lambda: dict.__getitem__(matplotlib.rcParams, 'backend');"
        "before = backend(); import nengo_vision as nv; nv.Config(); nv.plots;"
        "heavy = [m for m in ('tensorflow', 'nengo_dl', 'matplotlib.pyplot') if m in sys.modules];"
        "print(heavy, backend() == before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True"
    help_run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nengo_vision.convert", "--help"],
        capture_output=True, text=True, check=True,
    )
    assert "tensorflow" not in help_run.stderr and "nengo_dl" not in help_run.stderr
