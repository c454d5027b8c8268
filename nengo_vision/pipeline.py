"""The pipeline, stage by stage: data → model → train → (calibrate) → place →
run backends → compare → :class:`.Result`.

:func:`run` runs every stage for a :class:`.Config`; each stage is a function
of its own, so a notebook or a benchmark can stop after any of them or run one
again with other settings::

    import nengo_vision as nv
    config = nv.Config(n_test=100, epochs=1, n_train=6000)
    data = nv.pipeline.load_data(config)
    model, training = nv.pipeline.train(config, data)
    result = nv.pipeline.evaluate(config, model, data, training)

Settings flow down: each stage takes the config and what the stages before it
produced, and returns what the next one needs.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._logging import info
from .config import Config
from .defaults import RATE_WEIGHT
from .errors import ConfigError


@dataclass
class Data:
    """The data set and the arrays a run uses.

    Attributes
    ----------
    dataset : Dataset
        The registered data set (shape, classes, name).
    x_train, y_train : ndarray
        The training images and labels (the first ``n_train``).
    images, labels : ndarray
        The test images and labels the backends run (the first ``n_test``).
    indices : ndarray
        Their indices in the test set.
    source : str
        Where the arrays came from.
    events : EventSet or None
        For event data sets, the test recordings (``images`` are their rate
        frames, what the ANN sees).
    """

    dataset: object
    x_train: np.ndarray
    y_train: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    source: str = ""
    events: object = None
    raw_images: np.ndarray = None

    def noisy(self, config, kind, level):
        """The test inputs with noise of ``kind`` at ``level`` (seeded by
        ``config.seed`` and each image's index), through the input filter:
        the noise is in the world the camera sees, the filter after it."""
        from .noise import add_noise

        raw = self.images if self.raw_images is None else self.raw_images
        noisy = add_noise(raw, kind, level, seed=config.seed, indices=self.indices)
        return _filtered(config, noisy)


def load_data(config, log=info):
    """Load ``config.dataset``, cut it to ``n_train`` and ``n_test``, and pass the
    images through ``config.input_filter``.

    A test set smaller than the default ``n_test`` is taken whole, and ``log``
    says so; an ``n_test`` the run gives must fit.
    """
    from .datasets import get_dataset
    from .training import default_cache_dir

    dataset = get_dataset(config.dataset)
    if dataset.n_steps and config.encoding != "analog":
        raise ConfigError(
            f"{config.label('encoding')} {config.encoding} codes still images, but "
            f"{dataset.name} streams its own events; leave {config.label('encoding')} out"
        )
    options = getattr(dataset, "options", ())
    for name in ("classes", "image_size"):
        if getattr(Config, name).is_set(config) and getattr(config, name) is not None \
                and name not in options:
            raise ConfigError(
                f"{config.label(name)} is for data sets that take it "
                f"({', '.join(d for d in _datasets_taking(name))}); {dataset.name} "
                f"does not: leave it out"
            )
    for name in ("input_filter", "test_noise"):
        if dataset.n_steps and getattr(Config, name).is_set(config) and getattr(
                config, name) not in ("none", []):
            raise ConfigError(f"{config.label(name)} is for still images; {dataset.name} "
                              f"streams events: leave it out")
    tau = (config.input_synapse if Config.input_synapse.is_set(config)
           else dataset.input_synapse)
    # event frames are what the input synapse holds at the run's last step
    n_steps = config.n_steps if Config.n_steps.is_set(config) else None
    n_test = config.n_test if Config.n_test.is_set(config) else None
    splits = dataset.load(config.data_dir, n_train=config.n_train, n_test=config.n_test,
                          cache_dir=config.cache_dir or default_cache_dir(),
                          input_synapse=tau, n_steps=n_steps, progress=config.progress,
                          **{name: getattr(config, name) for name in options})
    for name, n, total, what in (
        ("n_test", n_test, splits.n_test_total or len(splits.x_test), "test"),
        ("n_train", config.n_train, splits.n_train_total or len(splits.x_train), "training"),
    ):
        if n is not None and n > total:
            raise ConfigError(
                f"{config.label(name)} {n} is more than the {total:,} {what} "
                f"{dataset.item}s of {dataset.name}; use at most {total}"
            )
    if n_test is None and len(splits.x_test) < config.n_test:
        log(f"{dataset.name} has {len(splits.x_test):,} test {dataset.item}s, fewer than "
            f"{config.label('n_test')}'s default {config.n_test:,}: all are run")
    n_train = config.n_train or len(splits.x_train)
    indices = np.arange(min(config.n_test, len(splits.x_test)))
    events = splits.test_events
    if events is not None and len(events) > len(indices):
        events = events.subset(indices)
    return Data(
        dataset=dataset, x_train=_filtered(config, splits.x_train[:n_train]),
        y_train=splits.y_train[:n_train],
        images=_filtered(config, splits.x_test[indices]), labels=splits.y_test[indices],
        indices=indices, source=splits.source, events=events,
        raw_images=None if config.input_filter == "none" else splits.x_test[indices],
    )


def _filtered(config, images):
    from .input_filter import apply_filter

    return apply_filter(config.input_filter, images, config.dog_sigma)


def _datasets_taking(name):
    from .datasets import dataset_names, get_dataset

    return [n for n in dataset_names() if name in getattr(get_dataset(n), "options", ())]


def presentation(config, data):
    """``config`` with the data set's presentation unless the run gave its own:
    ``n_steps`` (an event data set's recording length), ``input_synapse`` and
    ``output_synapse``."""
    changes = {}
    if not Config.input_synapse.is_set(config):
        changes["input_synapse"] = data.dataset.input_synapse
    if data.dataset.output_synapse and not Config.output_synapse.is_set(config):
        changes["output_synapse"] = data.dataset.output_synapse
    if data.dataset.n_steps and not Config.n_steps.is_set(config):
        changes["n_steps"] = data.dataset.n_steps
    if not Config.model.is_set(config):
        changes["model"] = data.dataset.default_model
    # filled in, not given: the record says so, and a run from it fills them again
    return config.fill(f"data set {data.dataset.name}", **changes) if changes else config


def inputs(config, data):
    """The test samples as the backends receive them (:class:`.stimulus.Inputs`):
    events streamed, still images coded as ``config.encoding`` says, or held."""
    from .encodings import get_encoding
    from .stimulus import EncodedSpikes, EventSpikes, Inputs

    if data.events is not None:
        return Inputs(data.images, EventSpikes(data.events, data.dataset.event_gain))
    encoding = get_encoding(config.encoding)
    if not encoding.spiking:
        return Inputs(data.images, indices=data.indices)
    spikes = EncodedSpikes(encoding, config.input_rate, config.seed, config.n_steps)
    return Inputs(data.images, spikes, indices=data.indices)


def activation(config, spec=None):
    """The rate activation of ``config.neuron`` with the configured operating range,
    and the training noise of ``config.train_noise``, else of the model ``spec``."""
    from .neurons import ACTIVATIONS

    noise = config.train_noise
    if noise is None:
        noise = spec.train_noise if spec is not None else 0.0
    return ACTIVATIONS[config.neuron](gain=config.gain, amplitude=config.amplitude, noise=noise,
                                      quantize=config.quantize, tau_ref=config.tau_ref)


def model_name(config):
    """``config.model``, or the data set's own model where the run names none."""
    from .datasets import get_dataset

    if Config.model.is_set(config):
        return config.model
    return get_dataset(config.dataset).default_model


def model_spec(config, data):
    """The :class:`.ModelSpec` of ``config.model``: a zoo name or a model file
    (the data set's own model unless the run names one)."""
    from .datasets import get_dataset
    from .errors import ModelError
    from .models import find_model

    spec = find_model(model_name(config), data.dataset, max_pool=config.max_pool,
                      nir_dt=config.nir_dt)
    if spec.adapts:  # built for these images and classes
        return spec.for_data(data.dataset.input_shape, data.dataset.n_classes)
    # a model file was checked against the loaded data (a folder's own shape)
    own = data.dataset if spec.dataset == data.dataset.name else get_dataset(spec.dataset)
    if tuple(own.input_shape) != tuple(data.dataset.input_shape):
        raise ModelError(
            f"model {spec.name} takes {spec.dataset}'s inputs of shape {own.input_shape}, "
            f"but {data.dataset.name} gives {data.dataset.input_shape}; use "
            f"{config.label('model')} {data.dataset.default_model}"
        )
    if own.n_classes != data.dataset.n_classes:
        raise ModelError(
            f"model {spec.name} has {own.n_classes} outputs, but {data.dataset.name} "
            f"gives {data.dataset.n_classes} classes here; use {config.label('model')} "
            f"{data.dataset.default_model}, which is built for the classes given"
        )
    return spec


def model_settings(config, spec, log=info):
    """``config`` with the settings a pretrained model fixes (a NIR graph's
    synapses, readout filter and time step), where the run does not give them;
    its reference backend becomes a spiking one (there is no ANN to compare with)."""
    if not spec.pretrained:
        return config
    changes = {k: v for k, v in spec.settings if not getattr(Config, k).is_set(config)}
    if not Config.reference.is_set(config):
        spiking = [b for b in ("nengo", "nengo-dl", "loihi-emulator", "nengo-loihi-emulator")
                   if b in config.backends]
        if spiking:
            changes["reference"] = spiking[0]
    said = [f"{config.label(k)} {v}" for k, v in changes.items() if k != "reference"]
    log(f"{spec.name}: " + (", ".join(said) + " (from the graph); " if said else "")
        + (f"compared with {changes['reference']} (a graph has no ANN); "
           if "reference" in changes else "")
        + ("fine-tuned for the epochs given" if Config.epochs.is_set(config)
           else "not trained (give --epochs to fine-tune)"))
    return config.fill(f"model {spec.name}", **changes)


def spike_input(config):
    """Whether the backends receive spikes (an event data set's events, or a
    spike encoding of still images) rather than values held at every step."""
    from .datasets import get_dataset
    from .encodings import get_encoding

    return bool(get_dataset(config.dataset).n_steps) or get_encoding(config.encoding).spiking


def preflight(config):
    """What can be checked from the settings alone, in a moment: the settings
    together, that every backend can run here, that the cache folder is writable."""
    from ._io import check_writable
    from .backends import get_backend
    from .training import default_cache_dir

    config.check()
    spikes = spike_input(config)
    if config.time_epochs and spikes:
        sent = (f"{config.label('encoding')} {config.encoding}" if config.encoding != "analog"
                else f"the events of {config.dataset}")
        raise ConfigError(
            f"{config.label('time_epochs')} fine-tunes with each image held at every "
            f"step, but this run sends spikes ({sent}); leave "
            f"{config.label('time_epochs')} out"
        )
    from .encodings import get_encoding

    if config.input_filter != "none" and get_encoding(config.encoding).spiking:
        # a difference of Gaussians is signed; the codes send values 0-1 as rates
        raise ConfigError(
            f"{config.label('input_filter')} {config.input_filter} gives signed values, "
            f"which {config.label('encoding')} {config.encoding} cannot send as spikes; "
            f"leave one of them out"
        )
    for name in config.backends:
        get_backend(name).check_inputs(spikes)
        get_backend(name).check()
    check_writable(config.cache_dir or default_cache_dir(), config.label("cache_dir"))
    if config.export_nir:
        export = Path(config.export_nir)
        if export.is_dir():
            raise ConfigError(f"{config.label('export_nir')} {export} is a folder; give "
                              f"a file name (graph.nir)")
        check_writable(export.parent, config.label("export_nir"))


def check_budget_layers(config, spec, model=None):
    """ConfigError if a per-layer ``spike_budget`` names a layer that is not one of
    the model's neuron layers (``model``: built from ``spec`` if not given)."""
    if not isinstance(config.spike_budget, dict):
        return
    from .conversion import neuron_layers

    layers = neuron_layers(model or spec.build(activation(config, spec)))
    unknown = [name for name in config.spike_budget if name not in layers]
    if unknown:
        raise ConfigError(
            f"{config.label('spike_budget')} names {', '.join(unknown)}, not a neuron "
            f"layer of {spec.name}; its neuron layers: {', '.join(layers)}"
        )


def check(config, spec, data):
    """What depends on the data and the model, checked before training: the
    memory the run needs, biases where rates are to be calibrated, that the
    network can be written to NIR where it is to be (``export_nir``, the
    ``norse`` backend), and (for chip backends) the placement of the untrained
    network on ``config.chips`` chips. (Call
    :func:`preflight` first: :func:`run` does.)

    Returns
    -------
    dict
        ``memory_bytes``: the run's estimated peak memory; ``placement``: the
        :class:`.partition.Placement` found (None without a chip backend).
    """
    from .backends import get_backend
    from .deploy import deployable
    from .memory import check_memory

    model = spec.build(activation(config, spec))
    found = dict(memory_bytes=check_memory(config, model, data), placement=None)
    check_budget_layers(config, spec, model)
    folded = deployable(model)  # what will run: refuses what cannot be folded
    if config.target_rate:
        from .calibration import check_biases

        check_biases(folded)  # a layer without a bias cannot be calibrated
    if config.export_nir or "norse" in config.backends:
        # what NIR cannot hold (a Concatenate, uneven padding) is refused now
        from .deploy.network import from_keras
        from .interop.nir_export import network_to_nir

        network_to_nir(from_keras(folded), synapse=config.synapse,
                       input_synapse=config.input_synapse,
                       output_synapse=config.output_synapse)
    if any(get_backend(name).needs_chip for name in config.backends):
        from .backends.loihi import check_placement

        found["placement"] = check_placement(folded, synapse=config.synapse,
                                             spike_input=spike_input(config),
                                             chips=config.chips)
    return found


def train(config, data, spec=None, log=info):
    """Train the model (or load it from the cache), then calibrate if asked.

    The trained model is returned in the form that runs on Loihi
    (:func:`.deploy.deployable`: batch normalisation, activation layers, pooling
    and padding folded into the weighted layers), which computes what the
    trained one does; every backend, the Keras one included, runs that.

    Returns
    -------
    model : tf.keras.Model
    training : dict
        Epochs, digits, schedule, whether it was cached, seconds, cache file,
        history, ``calibration`` (None without ``target_rate``) and
        ``through_time`` (None without ``time_epochs``).
    """
    from .deploy import deployable
    from .training import LR_SCHEDULE
    from .training import train as fit_model

    spec = spec or model_spec(config, data)
    if spec.pretrained and not Config.epochs.is_set(config):
        model = deployable(spec.build(activation(config, spec)))
        return model, dict(epochs=0, n_train=0, augment=0, lr_schedule="none", cached=False,
                           seconds=0.0, cache=None, history={}, calibration=None,
                           through_time=None, pretrained=spec.description)
    model, info = fit_model(
        spec, activation(config, spec), data.x_train, data.y_train, epochs=config.epochs,
        seed=config.seed, cache_dir=config.cache_dir, retrain=config.retrain,
        batch_size=config.train_batch_size, log=log, augment=config.augment,
        lr_decay=config.lr_decay,
        rate_target=(config.rate_penalty, RATE_WEIGHT) if config.rate_penalty else None,
        spike_budget=config.spike_budget,
    )
    model = deployable(model)
    training = dict(
        epochs=config.epochs, n_train=len(data.x_train), augment=config.augment,
        lr_schedule=LR_SCHEDULE if config.lr_decay else "constant",
        cached=info["cached"], seconds=round(info["seconds"], 1), cache=info["cache"],
        history=info["history"], calibration=None,
    )
    if config.target_rate:
        from .calibration import calibrate, describe

        training["calibration"] = calibrate(
            model, data.x_train, data.y_train, config.target_rate, info["cache"],
            epochs=config.calibration_epochs, batch_size=config.train_batch_size,
            augment=config.augment, seed=config.seed,
            retrain=config.retrain, log=log,
        )
        for line in describe(training["calibration"]):
            log(line)
    training["through_time"] = None
    if config.time_epochs:
        from .through_time import fine_tune

        base = (training["calibration"]["fine_tune"]["cache"] if training["calibration"]
                else info["cache"])
        training["through_time"] = fine_tune(
            model, data.x_train, data.y_train, config.time_steps or config.n_steps,
            config.time_epochs, base, synapse=config.synapse,
            output_synapse=config.output_synapse, readout=config.readout,
            batch_size=config.train_batch_size, augment=config.augment, seed=config.seed,
            retrain=config.retrain, log=log,
        )
    return model, training


def context(config, model, data, log=info):
    """The :class:`.RunContext` the backends run ``model`` with: the settings
    they need, and the neurons every backend records (chosen once, on the test
    images, so that all record the same)."""
    from .backends import RunContext
    from .harness import choose_recording

    return RunContext(
        model=model, n_steps=config.n_steps, emulator_batch=config.emulator_batch,
        chips=config.chips,
        synapse=config.synapse, input_synapse=config.input_synapse,
        batch_size=config.batch_size, seed=config.seed,
        progress=config.progress, log=log, item=data.dataset.item,
        record=choose_recording(model, data.images, n_digits=config.record_digits,
                                seed=config.seed),
    )


def run_backends(config, model, data, log=info):
    """Run the test digits through every configured backend.

    Returns
    -------
    runs : dict
        Backend → :class:`.BackendRun` (each on its first ``config.n_digits``).
    ctx : RunContext
        What they ran with: the time step, and the neurons whose spikes and
        voltages were kept (``ctx.record``).
    """
    from .harness import run_backends as run_all
    from .sharding import Cluster
    from .training import default_cache_dir

    ctx = context(config, model, data, log=log)
    # finished shards are kept in the cache: the same command run again after
    # an interruption continues where it stopped
    runs = run_all(ctx, config.backends, inputs(config, data),
                   n_digits={n: config.n_digits(n) for n in config.backends},
                   cluster=Cluster(workers=config.workers, scheduler=config.scheduler),
                   keep=config.cache_dir or default_cache_dir())
    return runs, ctx


def compare(config, model, runs, data, dt):
    """Every metric of every backend, and the backends side by side (``dt``:
    the time step the backends ran with)."""
    from .encodings import get_encoding
    from .harness import compare as compare_runs
    from .input_filter import filter_macs
    from .metrics import parse_synapse

    coded = data.events is None and get_encoding(config.encoding).spiking
    return compare_runs(runs, data.labels, model, config.n_steps,
                        parse_synapse(config.output_synapse), dt=dt, last_k=config.last_k,
                        reference=config.reference_backend, readout=config.readout,
                        decision_margin=config.decision_margin,
                        encoded_pixels=int(np.prod(data.images.shape[1:])) if coded else 0,
                        filter_macs=filter_macs(config.input_filter, data.images.shape[1:],
                                                config.dog_sigma))


def run_noise(config, model, data, log=info):
    """Every backend again on the test inputs with each noise of
    ``config.test_noise`` (:meth:`Data.noisy`): ``{"kind:level": {backend:
    {"accuracy", "n_test"}}}``, each backend on as many samples as in the clean run."""
    from dataclasses import replace

    from .noise import noise_label

    out = {}
    for kind, level in config.test_noise:
        label = noise_label(kind, level)
        log(f"test inputs with {label} noise")
        noisy = replace(data, images=data.noisy(config, kind, level), raw_images=None)
        runs, ctx = run_backends(config, model, noisy, log=log)
        comparison = compare(config, model, runs, noisy, ctx.dt)
        out[label] = {name: dict(accuracy=float(b.accuracy), n_test=int(b.n_test))
                      for name, b in comparison.backends.items()}
    return out


def evaluate(config, model, data, training, spec=None, log=info):
    """Run the backends on a trained model and compare them: a :class:`.Result`."""
    from .result import Result

    config = presentation(config, data)
    spec = spec or model_spec(config, data)
    runs, ctx = run_backends(config, model, data, log=log)
    training = dict(training)
    calibration = training.pop("calibration", None)
    if spec.pretrained:
        from dataclasses import asdict

        from .deploy.network import from_keras

        neuron = dict(type="the graph's", layers={
            l.name: asdict(l.neuron) for l in from_keras(model).neuron_layers()})
    else:
        neuron = dict(type=config.neuron, **activation(config, spec).get_config())
    noise = run_noise(config, model, data, log=log) if config.test_noise else {}
    return Result(
        config=config, model=spec.name, classes=tuple(data.dataset.classes), noise=noise,
        model_source=(dict(path=str(Path(config.model).resolve()), hash=spec.source)
                      if spec.source else "zoo"),
        dataset=data.dataset.name, training=training, calibration=calibration,
        neuron=neuron, model_object=model,
        comparison=compare(config, model, runs, data, ctx.dt),
        images=data.images, labels=data.labels, indices=data.indices, recording=ctx.record,
        dt=ctx.dt,
    )


def prepare(config, log=info):
    """The stages before :func:`check`: :func:`preflight`, :func:`load_data` and
    :func:`model_spec`, and ``config`` with what the data set and model fill in
    where the run gives nothing (a small test set's ``n_test``, the data set's
    presentation, a NIR graph's settings, the model's ``train_noise``).

    Returns ``(config, data, spec)``; :func:`run` and ``nengo-vision check``
    both start here.
    """
    preflight(config)
    data = load_data(config, log=log)
    if len(data.labels) < config.n_test:  # a small test set, taken whole
        config = config.fill(f"data set {data.dataset.name}", n_test=len(data.labels))
    spec = model_spec(config, data)
    # the model's settings first: a NIR graph's synapses win over the data set's
    config = presentation(model_settings(config, spec, log=log), data)
    if not Config.train_noise.is_set(config):
        config = config.fill(f"model {spec.name}", train_noise=spec.train_noise or 0.0)
    return config, data, spec


def run(config=None, log=info, **settings):
    """Run the whole pipeline: the library's main job.

    Parameters
    ----------
    config : Config, optional
        The settings (default: ``Config(**settings)``).
    log : callable
        Receives a line for the user at each stage (default: the ``nengo_vision``
        logger at INFO level; ``print`` to see them; ``lambda s: None`` for silence).
    **settings
        Settings to change from ``config`` (or from the defaults).

    Returns
    -------
    Result
        ``result.backends[NAME].accuracy``, ..., and ``result.write(folder)``
        for the report the command line writes.
    """
    import time

    timings, start = {}, time.perf_counter()

    def lap(stage):  # wall seconds of each stage, for results.json
        nonlocal start
        timings[stage] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()

    config = Config(**settings) if config is None else config.replace(**settings)
    config, data, spec = prepare(config, log=log)
    lap("load_data")
    check(config, spec, data)
    lap("check")
    model, training = train(config, data, spec=spec, log=log)
    if config.export_nir:
        export_nir(config, model, log=log)
    lap("train")
    result = evaluate(config, model, data, training, spec=spec, log=log)
    lap("evaluate")
    result.timings = timings
    return result


def export_nir(config, model, path=None, log=info):
    """Write ``model`` (trained, as :func:`train` returns it) as a NIR graph, with
    the synapses, readout filter and input of ``config`` (``path``:
    ``config.export_nir``). Returns the lines NIR could not say: logged, or
    warned where ``log`` is None."""
    import warnings

    from .datasets import get_dataset, spike_value
    from .interop import export_nir as write
    from .interop.nir_import import RUN_DT

    path = path or config.export_nir
    with warnings.catch_warnings():
        if log is not None:
            warnings.simplefilter("ignore")  # the same lines are logged below
        notes = write(model, path, dt=RUN_DT, synapse=config.synapse,
                      input_synapse=config.input_synapse,
                      output_synapse=config.output_synapse,
                      input_scale=spike_value(get_dataset(config.dataset)) or 1.0)
    if log is not None:
        log(f"NIR graph written to {path}")
        for note in notes:
            log(f"warning: {note}")
    return notes
