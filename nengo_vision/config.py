"""Every setting of a run, with its default, validated where it is set.

:class:`Config` is what the command line, the notebook, the benchmarks and the
tests all build a run from::

    config = Config(model="scnn_mnist", n_test=100, epochs=1)
    config.n_steps = 50          # checked here
    config.n_steps = 0           # ConfigError: Config.n_steps must be a positive integer, got 0

Each setting is a :class:`Setting` on the class (as ``nengo.params`` declares
parameters): it knows its default, how to check a value, and how the command
line spells and explains it, so ``--help`` and the checks cannot drift apart.
Checks that involve two settings (``last_k`` against ``n_steps``, ``digits``
against ``backends``) are in :meth:`Config.check`, which the pipeline calls
before any slow work. Importing this module imports nothing heavy.
"""

import math
from pathlib import Path

from . import defaults
from .errors import ConfigError

#: --neuron choices (the activation classes are in :mod:`.neurons`)
NEURONS = ("lif", "loihi")
#: MNIST digits fit a 20x20 box in a 28x28 frame: larger shifts cut digits off.
MAX_AUGMENT = 4
#: the main job's backends
DEFAULT_BACKENDS = ("keras", "nengo-dl-rate", "nengo-dl", "nengo", "loihi-emulator")
#: Digits each backend runs by default (the main job's budget); others run all.
#: The emulator (batched engine) runs the whole test set in about a minute;
#: NengoDL and Nengo take 20 to 60 s per 1,000 digits on 2 cores, and
#: NengoLoihi's own emulator about 1 digit/s.
DEFAULT_DIGITS = {
    "nengo-dl-rate": 1000, "nengo-dl": 1000, "nengo": 1000, "nengo-dl-loihi": 1000,
    "nengo-loihi-emulator": 200, "loihi": 200, "norse": 1000,
}


# ---------------------------------------------------------------- value checks
# Each takes a value (from Python, or the text of a command-line option) and
# returns it normalised, or raises ValueError saying what is wrong with it.


def _as_int(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def whole_number(low, high, what):
    """A check for integers from ``low`` to ``high`` (None: no limit), whose
    error says ``must be WHAT``."""

    def check(value):
        try:
            number = _as_int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or number < low or (high is not None and number > high):
            raise ValueError(f"must be {what}, got {value!r}")
        return number

    return check


positive_int = whole_number(1, None, "a positive integer")
non_negative_int = whole_number(0, None, "0 or a positive integer")
seed_number = whole_number(0, 2**32 - 1, "an integer from 0 to 4294967295")
shift_pixels = whole_number(0, MAX_AUGMENT, f"a whole number of pixels from 0 to {MAX_AUGMENT}")


def finite_number(low, inclusive, what):
    """A check: a finite number above ``low`` (or equal to it, if ``inclusive``)."""

    def check(value):
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        above = number >= low if inclusive else number > low
        if not (above and math.isfinite(number)):
            raise ValueError(f"must be {what}, got {value!r}")
        return number

    return check


positive_float = finite_number(0, False, "a positive number")
non_negative_float = finite_number(0, True, "a number of 0 or more")


def time_constant(value):
    """A lowpass time constant in seconds, or None (``"none"``) for no filter."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    try:
        return positive_float(value)
    except ValueError:
        raise ValueError(
            f"must be a positive time constant in seconds, or 'none' for no filter, "
            f"got {value!r}"
        ) from None


def optional(check):
    """``check``, but None (or ``"none"``) passes: the setting is off."""

    def optional_check(value):
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        return check(value)

    optional_check.__name__ = check.__name__
    return optional_check


def one_of(choices):
    def choice(value):
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    return choice


def flag(value):
    if not isinstance(value, bool):
        raise ValueError(f"must be True or False, got {value!r}")
    return value


def text(value):
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return str(value)


def folder(value):
    """A folder path, or None for the default."""
    if value is None or value == "none":  # "none": how TOML says None
        return None
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"must be a folder path, got {value!r}")
    return str(value)


def backend_list(value):
    """``"a,b"`` or a sequence of names → a list of known, distinct backend names."""
    from .backends import backend_names

    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise ValueError("is empty; name at least one backend")
    known = backend_names()
    for name in names:
        if name not in known:
            raise ValueError(f"names unknown backend {name!r}; known backends: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ValueError(f"names a backend twice: {','.join(names)}")
    return names


def dataset_name(value):
    """The name of a registered data set."""
    from .datasets import dataset_names

    known = dataset_names()
    if value not in known:
        raise ValueError(f"names unknown data set {value!r}; known data sets: {', '.join(known)}")
    return value


def encoding_name(value):
    """The name of a spike encoding (:mod:`.encodings`)."""
    from .encodings import encoding_names

    known = encoding_names()
    if value not in known:
        raise ValueError(f"names unknown encoding {value!r}; known encodings: {', '.join(known)}")
    return value


def named_values(value, check, wrong):
    """``"NAME=V,..."`` or a dict → ``{name: check(V)}``; ``wrong`` (a ValueError)
    for a pair without a name or a value, or a value ``check`` refuses."""
    if isinstance(value, dict):
        items = list(value.items())
    else:
        items = [part.partition("=")[::2] if "=" in part else (part, None)
                 for part in filter(None, (p.strip() for p in str(value).split(",")))]
    named = {}
    for name, v in items:
        if not str(name).strip() or v is None:
            raise wrong
        try:
            named[str(name).strip()] = check(v)
        except ValueError:
            raise wrong from None
    return named


def digit_counts(value):
    """``"BACKEND=N,..."`` or a dict → {backend: N} with N positive."""
    return named_values(value, positive_int, ValueError(
        f"must be BACKEND=N pairs separated by commas, N a positive integer, got {value!r}"
    ))


def budget(value):
    """A spike budget: Hz for every neuron layer, or ``"LAYER=HZ,..."`` (a dict)."""
    wrong = ValueError(f"must be HZ, or LAYER=HZ pairs separated by commas, HZ a "
                       f"positive number, got {value!r}")
    if isinstance(value, dict) or (isinstance(value, str) and "=" in value):
        budgets = named_values(value, positive_float, wrong)
        if not budgets:
            raise wrong
        return budgets
    try:
        return positive_float(value)
    except ValueError:
        raise wrong from None


def address(value):
    if value is None or value == "none":
        return None
    value = text(value)
    if "://" not in value and ":" not in value:
        raise ValueError(f"must be a Dask scheduler address like tcp://HOST:8786, got {value!r}")
    return value


def fraction(value):
    """A number strictly between 0 and 1."""
    try:
        number = finite_number(0, False, "")(value)
    except ValueError:
        number = None
    if number is None or not number < 1:
        raise ValueError(f"must be a number between 0 and 1, got {value!r}")
    return number


def name_list(value):
    """``"a,b"`` or a sequence → a list of distinct, non-empty names (class names)."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise ValueError(f"must be names separated by commas, none empty, got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"names a class twice: {','.join(names)}")
    return names


def image_size(value):
    """``"H,W"`` (or ``"N"`` for a square) or a pair → ``(H, W)`` from 1 to 4096."""
    wrong = ValueError(f"must be HEIGHT,WIDTH in pixels (or one number for a square), "
                       f"each from 1 to 4096, got {value!r}")
    parts = str(value).replace("x", ",").split(",") if isinstance(value, str) else list(
        value if isinstance(value, (list, tuple)) else [value])
    try:
        size = [whole_number(1, 4096, "")(p) for p in parts]
    except ValueError:
        raise wrong from None
    if len(size) == 1:
        size = size * 2
    if len(size) != 2:
        raise wrong
    return tuple(size)


def dog_sigmas(value):
    """``"CENTRE,SURROUND"`` or a pair → two Gaussian widths (pixels), centre < surround."""
    wrong = ValueError(f"must be CENTRE,SURROUND: two Gaussian widths in pixels, the "
                       f"centre narrower, got {value!r}")
    parts = value.split(",") if isinstance(value, str) else list(value) if isinstance(
        value, (list, tuple)) else [value]
    try:
        sigmas = tuple(positive_float(p) for p in parts)
    except ValueError:
        raise wrong from None
    if len(sigmas) != 2 or sigmas[0] >= sigmas[1]:
        raise wrong
    return sigmas


def noise_list(value):
    """``"KIND:LEVEL,..."`` or a sequence of pairs → a list of ``(kind, level)``,
    each kind one of :data:`.noise.NOISE_KINDS` and its level in range."""
    from .noise import check_noise

    if isinstance(value, str):
        items = [p.strip() for p in value.split(",") if p.strip()]
        pairs = []
        for item in items:
            kind, sep, level = item.partition(":")
            if not sep:
                raise ValueError(f"must be KIND:LEVEL items separated by commas "
                                 f"(gaussian:0.1,salt-pepper:0.05), got {item!r}")
            pairs.append((kind.strip(), level.strip()))
    else:
        pairs = [tuple(p) for p in value]
    out = []
    for kind, level in pairs:
        try:
            level = float(level)
        except (TypeError, ValueError):
            raise ValueError(f"has level {level!r} for {kind}, not a number") from None
        out.append(check_noise(kind, level))
    if len(set(out)) != len(out):
        raise ValueError(f"names a noise twice: {value!r}")
    return out


def _jsonable(value):
    """``value`` with tuples as lists, for JSON and TOML (the checks take both)."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _frozen(value):
    """``value`` made hashable (lists and dicts as tuples), for :meth:`Config.__hash__`."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


# ---------------------------------------------------------------- settings


class Setting:
    """One setting of :class:`Config`: a default, a check, and how the command
    line offers it.

    Parameters
    ----------
    default
        The value when none is given (not checked: it is ours).
    check : callable
        Value → normalised value, or ValueError saying what is wrong.
    help : str
        What it means, for ``--help`` and the docs.
    metavar : str, optional
        The placeholder in ``--help``; None for a flag that takes no value.
    option : str, optional
        The command-line option (default: ``--`` and the name with dashes);
        ``""`` for a setting that only the library offers.
    show_default : bool
        Append "(default: ...)" to the help.
    """

    def __init__(self, default, check, help, metavar="X", option=None, show_default=True):
        self.default, self.check, self.help = default, check, help
        self.metavar, self.option, self.show_default = metavar, option, show_default
        self.name = None

    def __set_name__(self, owner, name):
        self.name = name
        if self.option is None:
            self.option = "--" + name.replace("_", "-")

    def __get__(self, instance, owner):
        if instance is None:
            return self
        if self.name in instance.__dict__:
            value = instance.__dict__[self.name]
        elif self.name in instance._filled:  # a data set's or model's default
            value = instance._filled[self.name][0]
        else:
            value = self.default
        # a copy, so that appending to config.backends can neither skip the
        # check nor change the default of every other Config
        return value.copy() if isinstance(value, (list, dict)) else value

    def is_set(self, instance):
        """True if ``instance`` was given a value for this setting (not one
        filled in from a data set's or model's default)."""
        return self.name in instance.__dict__

    def source(self, instance):
        """Where ``instance``'s value comes from: ``"given"``, ``"default"``, or
        what filled it in (``"data set mnist-saccades"``, ``"model vgg_mnist"``)."""
        if self.is_set(instance):
            return "given"
        return instance._filled.get(self.name, (None, "default"))[1]

    def __set__(self, instance, value):
        try:
            instance.__dict__[self.name] = self.check(value)
        except ValueError as e:
            raise ConfigError(f"Config.{self.name} {e}") from None

    def parse(self, text):
        """The value of the command-line option ``text`` (argparse's ``type``)."""
        import argparse

        try:
            return self.check(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None


class Config:
    """The settings of one run: model, data, training, backends and readout.

    Give any setting as a keyword; the others keep their defaults. A bad value
    raises :class:`.ConfigError` naming the setting and what to give, when it
    is set. ``Config.settings()`` lists them all; ``config.to_dict()`` gives
    their values.
    """

    # -- what to run
    model = Setting(
        "scnn_mnist", text,
        "a model name (default: the data set's own: scnn_mnist, or scnn_nmnist for "
        "event data sets), the path of a NIR graph (.nir; run as it is, see README: "
        "'NIR'), or the path of your own Keras model (.keras, .h5 or a "
        "SavedModel folder), whose relu layers become LIF neurons and whose weights "
        "start the training; batch norm, pooling and padding are folded into the "
        "weights, Add and Concatenate become connections (README: 'Keras layers on "
        "Loihi')", metavar="NAME|PATH", show_default=False,
    )
    nir_dt = Setting(
        None, optional(positive_float),
        "the time step (s) a NIR graph (--model graph.nir) is read with: its spikes "
        "are 1 for one step of it (default: the graph's metadata 'dt', else 0.001, "
        "Norse's default)", metavar="DT", show_default=False,
    )
    export_nir = Setting(
        None, optional(text),
        "also write the trained network, as it runs, to FILE as a NIR graph (for "
        "Norse, snnTorch, Sinabs, SpiNNaker2, ...; README: 'NIR')", metavar="FILE",
        show_default=False,
    )
    max_pool = Setting(
        "refuse", one_of(("refuse", "avg")),
        "what to do with a model file's max pooling, which Loihi cannot run: "
        "'refuse' it with advice, or replace it by average pooling of the same size "
        "('avg'; training then fine-tunes the model for it, at some cost in accuracy)",
        metavar="{refuse,avg}",
    )
    dataset = Setting("mnist", dataset_name, "the data set the model is trained and tested on",
                      metavar="NAME")
    classes = Setting(
        None, optional(name_list),
        "the classes to use, by name, in this order (their labels are 0, 1, ...): "
        "folders of an image or event folder, names of cifar10 (default: every class "
        "the data set has)", metavar="A,B,...", show_default=False,
    )
    image_size = Setting(
        None, optional(image_size),
        "the size images are resized to (--dataset folder): a folder whose images "
        "differ in size needs it (default: the images' own size)", metavar="H,W",
        show_default=False,
    )
    test_fraction = Setting(
        0.2, fraction,
        "share of each class held out for testing where a folder has no train/ and "
        "test/ (Caltech 101's layout), chosen with --seed", metavar="F",
    )
    input_filter = Setting(
        "none", one_of(("none", "dog")),
        "a filter on every input image before the network: 'dog' is seed 002's "
        "difference of Gaussians (foveal-pit centre-surround; widths --dog-sigma)",
        metavar="{none,dog}",
    )
    dog_sigma = Setting(
        (1.0, 2.0), dog_sigmas,
        "the difference-of-Gaussians widths in pixels, centre and surround",
        metavar="C,S",
    )
    test_noise = Setting(
        [], noise_list,
        "also run every backend on the test inputs with this noise (seeded by "
        "--seed), each KIND:LEVEL one more run: gaussian:SD (pixel values 0-1), "
        "salt-pepper:FRACTION, ...; the report shows accuracy against noise level",
        metavar="KIND:LEVEL,...", show_default=False,
    )
    backends = Setting(
        list(DEFAULT_BACKENDS), backend_list, "comma-separated backends to run",
        metavar="LIST",
    )
    reference = Setting(
        None, optional(text),
        "backend whose output traces the others are compared with, step by step "
        "(default: keras if it runs, else the first backend)",
        metavar="BACKEND", show_default=False,
    )
    # -- test digits
    n_test = Setting(
        10000, positive_int,
        "test digits to run, the first N of the test set; backends slower than the "
        "emulator run fewer (see --digits)", metavar="N",
    )
    digits = Setting(
        {}, digit_counts,
        "how many of the first --n-test digits a backend runs, overriding its "
        "default (" + ", ".join(f"{k} {v}" for k, v in DEFAULT_DIGITS.items())
        + ", others all); comparisons between two backends use the digits both ran",
        metavar="BACKEND=N,...", show_default=False,
    )
    n_steps = Setting(
        30, positive_int,
        "time steps (1 ms) each sample is presented for; event data sets stream their "
        "whole recordings unless this is given (mnist-saccades: 300)", metavar="N",
    )
    encoding = Setting(
        "analog", encoding_name,
        "how still images reach the spiking backends: 'analog' holds the pixel values "
        "at every step (the first layer's neurons make the spikes, on the host for "
        "Loihi); 'poisson' or 'bernoulli' rate codes, 'regular' evenly spaced spikes "
        "or 'latency' (one spike, the brighter the earlier) send spikes straight to the "
        "first layer, on the chip for Loihi (event data sets send their events)",
        metavar="{analog,poisson,bernoulli,regular,latency}",
    )
    input_rate = Setting(
        1000.0, positive_float,
        "the spike codes' rate for a pixel of 1, in Hz (1000: a spike every step; "
        "bernoulli and regular send at most one per step)", metavar="HZ",
    )
    readout = Setting(
        "last", one_of(("last", "integrate")),
        "how the accuracy, accuracy by step and latency read the output: 'last', the "
        "filtered output at the step; 'integrate', the unfiltered output summed from "
        "the first step (evidence so far: for held images; the event data sets' "
        "models learned the input at the last step, and read 30 % summed); the "
        "report shows every readout rule besides", metavar="{last,integrate}",
    )
    decision_margin = Setting(
        None, optional(positive_float),
        "stop each sample at the first step at which its readout's leading class is "
        "MARGIN ahead of the next (output units; with --readout integrate, summed "
        "over the steps so far: a race of accumulated evidence); its class is read "
        "there and its steps and energy are counted to there (default: every sample "
        "runs every step)", metavar="MARGIN", show_default=False,
    )
    last_k = Setting(10, positive_int,
                     "steps averaged by the mean-of-last-K readout rule (at most --n-steps; "
                     "the default is cut to --n-steps)", metavar="K")
    record_digits = Setting(
        3, positive_int,
        "digits whose spikes (50 random neurons per layer) and voltages are kept and "
        "plotted", metavar="N",
    )
    # -- where to run
    workers = Setting(
        None, optional(positive_int),
        "run each backend's digits as shards on a local Dask cluster of N worker "
        "processes (default: in this process)", metavar="N", show_default=False,
    )
    scheduler = Setting(
        None, address,
        "run the shards on a running Dask cluster, e.g. tcp://127.0.0.1:8786 "
        "(instead of --workers)", metavar="ADDRESS", show_default=False,
    )
    chips = Setting(
        1, whole_number(1, 768, "a number of Loihi chips from 1 to 768"),
        "Loihi chips the network may be placed on (128 cores each); blocks are "
        "given to chips by nengo-loihi's greedy allocator and the report shows "
        "each chip's share", metavar="N",
    )
    emulator_batch = Setting(
        100, positive_int,
        "digits the batched Loihi emulator steps at once; memory grows by about "
        "10 MB per digit for scnn_mnist", metavar="N",
    )
    batch_size = Setting(defaults.BATCH_SIZE, positive_int, "digits per batch when NengoDL and Keras run",
                         metavar="N")
    # -- training
    epochs = Setting(defaults.EPOCHS, positive_int, "training epochs", metavar="N")
    n_train = Setting(
        None, optional(positive_int),
        "train on the first N training digits only (default: all)", metavar="N",
        show_default=False,
    )
    train_batch_size = Setting(defaults.TRAIN_BATCH_SIZE, positive_int, "digits per training batch", metavar="N")
    augment = Setting(
        defaults.AUGMENT, shift_pixels,
        "shift training digits randomly by up to PX pixels, anew every epoch; 0 for none",
        metavar="PX",
    )
    lr_decay = Setting(
        True, flag, "cosine learning-rate decay over training (library only)", option="",
    )
    seed = Setting(0, seed_number, "seed of every random choice", metavar="N")
    retrain = Setting(False, flag, "train even if parameters for these settings are cached",
                      metavar=None, show_default=False)
    rate_penalty = Setting(
        None, optional(positive_float),
        f"train with a penalty that keeps each layer's firing neurons at or above HZ "
        f"(weight {defaults.RATE_WEIGHT}; default: no penalty)", metavar="HZ",
        show_default=False,
    )
    spike_budget = Setting(
        None, optional(budget),
        "train with every neuron layer's mean firing rate held to HZ (or each named "
        f"layer to its own: conv0=20,conv1=10): a penalty of weight "
        f"{defaults.BUDGET_WEIGHT:g} x (rate / HZ - 1)^2 beyond it, silent neurons "
        "counted, so that the network spends fewer spikes, which the chip pays for "
        "(default: no budget)", metavar="HZ|LAYER=HZ,...", show_default=False,
    )
    quantize = Setting(
        None, optional(positive_int),
        "train through rates quantised to the spike counts N steps can hold, "
        "round(rate x N x dt) / (N x dt), with the rate curve's gradient (QCFS-style, "
        "Bu et al. 2022: which assumes reset by subtraction; Loihi resets to zero, so "
        "what it gives here is measured, not assumed; default: exact rates)",
        metavar="N", show_default=False,
    )
    time_epochs = Setting(
        0, non_negative_int,
        "after training, fine-tune for N epochs through time: the network run for "
        "--time-steps steps with the neuron as the chip runs it (Loihi's discretised "
        "decay, whole-step refractory period, reset to zero, a step's delay per "
        "layer) in the forward pass and the rate curve's gradient in the backward "
        "pass, so that few steps suffice (0: none)", metavar="N",
    )
    time_steps = Setting(
        None, optional(positive_int),
        "steps the fine-tuning through time runs each training digit for "
        "(default: --n-steps)", metavar="N", show_default=False,
    )
    train_noise = Setting(
        None, optional(non_negative_float),
        "train with Gaussian noise of standard deviation SIGMA (in threshold "
        "currents) added to every neuron's input current in training passes (never "
        "when running), so that the network keeps margins that spikes' fluctuating "
        "currents respect; 0 for none (default: the model's own, 1.5 for vgg_mnist, "
        "else 0)", metavar="SIGMA",
        show_default=False,
    )
    # -- the neuron and its operating range
    neuron = Setting(
        "lif", one_of(NEURONS),
        "the neuron the model is trained for: 'lif' trains through nengo.LIF's rate "
        "curve; 'loihi' through the rate of Loihi's discretised LIF (whole-step spike "
        "intervals, 333 Hz ceiling), and the converted network runs LoihiLIF neurons, "
        "so NengoDL predicts what the chip does", metavar="{lif,loihi}",
    )
    gain = Setting(defaults.GAIN, positive_float,
                   "LIF input current per unit of a layer's pre-activation", metavar="G")
    amplitude = Setting(
        defaults.AMPLITUDE, positive_float,
        "activation per Hz of firing rate: the ANN's activations are A times the LIF "
        "rates, so a smaller A makes the same network fire more spikes, which the "
        "spiking network needs to keep the ANN's accuracy in a short presentation",
        metavar="A",
    )
    tau_ref = Setting(
        0.002, non_negative_float,
        "the LIF neurons' refractory period (s); 0 for none, as NIR's LIF has none "
        "(a network trained with 0 exports to NIR without a difference)", metavar="S",
    )
    synapse = Setting(
        0.002, time_constant,
        "lowpass time constant (s) on connections out of neuron layers, or 'none' for "
        "raw spikes; a short filter turns spikes into smoother currents", metavar="TAU",
    )
    input_synapse = Setting(
        None, time_constant,
        "lowpass time constant (s) on the input's connections, or 'none' (default: "
        "the data set's own: 0.2 for event data sets, whose events come in bursts; "
        "none for still images); event frames for the ANN are collapsed with the same "
        "filter", metavar="TAU", show_default=False,
    )
    output_synapse = Setting(
        defaults.OUTPUT_SYNAPSE, time_constant,
        "lowpass time constant (s) of the readout filter on the output, applied per "
        "digit, or 'none' to read the raw last step (default: 0.1; event data sets "
        "0.01, see README)", metavar="TAU", show_default=False,
    )
    # -- calibration
    target_rate = Setting(
        None, optional(positive_float),
        "calibrate firing rates after training: measure each layer's input currents on "
        "training digits and scale each layer toward a mean rate of HZ, as far as no "
        f"more than {defaults.MAX_SATURATED * 100:.0f}% of its active rates reach "
        f"{defaults.HEADROOM * 100:.0f}% of the neuron's ceiling (Loihi: one spike per "
        "3 steps), then fine-tune (default: no calibration)", metavar="HZ",
        show_default=False,
    )
    calibration_epochs = Setting(1, non_negative_int,
                                 "fine-tuning epochs after --target-rate scaling", metavar="N")
    # -- files and the terminal
    data_dir = Setting(
        None, folder, "folder holding the data set's files: mnist.npz for mnist and "
        "mnist-saccades (default: $NENGO_VISION_DATA, else the Keras download); for "
        "nmnist, the N-MNIST folder with Train/ and Test/", metavar="DIR",
        show_default=False,
    )
    cache_dir = Setting(
        None, folder, "folder for trained parameters and made events (default: $NENGO_VISION_CACHE, else "
        "~/.cache/nengo_vision)", metavar="DIR", show_default=False,
    )
    progress = Setting(True, flag, "show progress bars", option="")

    #: how errors name settings: "setting" (``n_steps``) or "option" (``--n-steps``)
    _spelling = "setting"
    #: settings filled in from a data set's or model's default: name → (value, source)
    _filled = {}

    def __init__(self, **settings):
        object.__setattr__(self, "_filled", {})
        for name, value in settings.items():
            if not isinstance(getattr(type(self), name, None), Setting):
                raise ConfigError(
                    f"Config has no setting {name!r}; settings: {', '.join(self.settings())}"
                )
            setattr(self, name, value)

    def __setattr__(self, name, value):
        # a misspelt setting would otherwise be a silent new attribute
        if not isinstance(getattr(type(self), name, None), Setting):
            raise ConfigError(
                f"Config has no setting {name!r}; settings: {', '.join(self.settings())}"
            )
        super().__setattr__(name, value)

    @classmethod
    def from_options(cls, **settings):
        """A Config from command-line options: its errors name ``--options``."""
        config = cls(**settings)
        object.__setattr__(config, "_spelling", "option")
        return config

    def label(self, name):
        """How an error names setting ``name`` to this config's user."""
        option = self.settings()[name].option
        return option if self._spelling == "option" and option else name

    @classmethod
    def settings(cls):
        """Name → :class:`Setting`, in the order they are declared."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, Setting)}

    def to_dict(self):
        """Every setting's value as the run uses it (lists and dicts copied),
        whether given, filled in or default; :meth:`record` also says which."""
        out = {}
        for name in self.settings():
            value = getattr(self, name)
            out[name] = value.copy() if isinstance(value, (list, dict)) else value
        return out

    def given(self):
        """The settings this config was given: name → value, in declaration order."""
        return {name: getattr(self, name) for name in self.settings() if name in self.__dict__}

    def sources(self):
        """Name → where each setting's value comes from (:meth:`Setting.source`)."""
        return {name: setting.source(self) for name, setting in self.settings().items()}

    def replace(self, **changes):
        """A copy with ``changes`` given (each checked); settings this config
        leaves at their defaults, or has filled in, stay so."""
        copy = type(self)()
        copy.__dict__.update(self.__dict__)  # values already checked, and the spelling
        object.__setattr__(copy, "_filled", dict(self._filled))
        for name, value in changes.items():
            setattr(copy, name, value)
        return copy

    def fill(self, source, **defaults):
        """A copy whose settings not given take ``defaults`` (each checked) as
        ``source``'s own (``"data set mnist-saccades"``): they keep being "not
        given", so :meth:`record` tells them apart, and a run from the record
        fills them in again. Settings that were given keep their values."""
        copy = self.replace()
        for name, value in defaults.items():
            setting = self.settings()[name]
            if setting.is_set(self):
                continue
            try:
                copy._filled[name] = (setting.check(value), source)
            except ValueError as e:  # ours, not the user's: a defect to see
                raise ValueError(f"{source} fills Config.{name} {e}") from None
        return copy

    # ------------------------------------------------------------ records

    def record(self):
        """This config as plain JSON types (``results.json``'s ``config``).

        ``given``: the settings given, as given; ``filled``: those a data set or
        model filled in, each with its ``value`` and where it came ``from``;
        ``values``: every setting's value as the run used it.
        :meth:`from_dict` reads it back into an equal Config.
        """
        return dict(
            given=_jsonable(self.given()),
            filled={name: dict(value=_jsonable(value), **{"from": source})
                    for name, (value, source) in self._filled.items()
                    if not self.settings()[name].is_set(self)},
            values=_jsonable(self.to_dict()),
        )

    @classmethod
    def from_dict(cls, d):
        """A Config from :meth:`record`'s dict (``results["config"]``), or from
        a plain ``{setting: value}`` dict (a TOML file's, all given).

        Each value is checked as if set; an unknown setting is a ConfigError
        naming it, so that a record from a newer version is not silently cut.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a table of settings, got {type(d).__name__}")
        if "given" in d and isinstance(d["given"], dict):
            config = cls(**d["given"])
            for name, entry in (d.get("filled") or {}).items():
                if name not in cls.settings():
                    raise ConfigError(f"Config has no setting {name!r} (filled in the "
                                      f"record); settings: {', '.join(cls.settings())}")
                config = config.fill(entry["from"], **{name: entry["value"]})
            return config
        return cls(**d)

    @classmethod
    def from_toml(cls, path):
        """A Config from a TOML file of settings (same names as here), all given.

        The errors say which file: one line, never a traceback from the file.
        """
        import tomllib

        path = Path(path)
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
        table = {k.replace("-", "_"): v for k, v in table.items()}
        try:
            return cls.from_dict(table)
        except ConfigError as e:
            raise ConfigError(f"config file {path}: {e}") from None

    def to_toml(self):
        """The settings given, as TOML text :meth:`from_toml` reads back (None
        is written ``"none"``, which every setting that can be off accepts)."""
        import tomli_w

        def plain(value):
            if value is None:
                return "none"
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        header = ("# nengo_vision settings (see nengo_vision.Config); give them with\n"
                  "# nengo-vision run --config FILE. Settings not here take their defaults.\n")
        return header + tomli_w.dumps({k: plain(v) for k, v in _jsonable(self.given()).items()})

    def save_toml(self, path):
        """Write :meth:`to_toml` to ``path`` atomically."""
        from ._io import write_text

        write_text(Path(path), self.to_toml())

    # ------------------------------------------------------------ identity

    def _identity(self):
        filled = {k: v for k, v in self._filled.items() if not self.settings()[k].is_set(self)}
        return (_frozen(self.given()), _frozen(filled))

    def __repr__(self):
        given = ", ".join(f"{k}={v!r}" for k, v in self.given().items())
        filled = {k: v for k, v in self._filled.items() if not self.settings()[k].is_set(self)}
        if not filled:
            return f"Config({given})"
        said = ", ".join(f"{k}={v!r} ({source})" for k, (v, source) in filled.items())
        return f"Config({given}) filled in: {said}"

    def __eq__(self, other):
        """Equal if the same settings were given the same values, and the same
        were filled in alike: ``Config(n_steps=30)`` is not ``Config()``, as a
        data set's own default replaces only the latter's."""
        return isinstance(other, Config) and self._identity() == other._identity()

    def __hash__(self):
        return hash(self._identity())

    # ------------------------------------------------------------ joint checks

    @property
    def reference_backend(self):
        """The backend the others' traces are compared with."""
        if self.reference:
            return self.reference
        return "keras" if "keras" in self.backends else self.backends[0]

    def n_digits(self, backend):
        """How many of the first ``n_test`` digits ``backend`` runs."""
        return min(self.n_test, self.digits.get(backend, DEFAULT_DIGITS.get(backend, self.n_test)))

    def check(self):
        """Check the settings that depend on each other; ConfigError if they clash.

        The pipeline calls this before any slow work. Limits that depend on the
        data (``n_test`` against the test set's size) are checked when the data
        is loaded.
        """
        option = {name: self.label(name) for name in self.settings()}
        for name in self.digits:
            if name not in self.backends:
                raise ConfigError(
                    f"{option['digits']} names {name}, which is not among "
                    f"{option['backends']} ({', '.join(self.backends)}); name a backend "
                    f"that runs"
                )
        if self.workers and self.scheduler:
            raise ConfigError(f"{option['workers']} and {option['scheduler']} both given; "
                              f"choose one")
        if self.reference_backend not in self.backends:
            raise ConfigError(
                f"{option['reference']} {self.reference} is not one of the backends run "
                f"({', '.join(self.backends)}); choose one of them or add it to "
                f"{option['backends']}"
            )
        from .datasets import get_dataset
        from .encodings import get_encoding

        get_encoding(self.encoding).check(self.input_rate, 0.001, option["input_rate"])
        # an event data set streams its whole recordings unless n_steps is given
        n_steps = self.n_steps
        if not Config.n_steps.is_set(self):
            n_steps = get_dataset(self.dataset).n_steps or n_steps
        # the default (10) is capped at n_steps by the readout; a K given is not
        if Config.last_k.is_set(self) and self.last_k > n_steps:
            raise ConfigError(
                f"{option['last_k']} {self.last_k} is more than {option['n_steps']} "
                f"{n_steps}; average at most the {n_steps} steps there are"
            )
        return self
