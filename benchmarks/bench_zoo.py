"""The zoo's seed architectures on Loihi: accuracy, cores, operations, energy (run by hand).

For one zoo model per run (so that two can share the machine's cores), trains it
with the main job's settings (cached), then runs every test digit through Keras,
the batched Loihi emulator and NengoDL, and records for each model:

- accuracy of Keras, NengoDL (spiking LIF) and the emulator, and how often NengoDL
  and the emulator predict the same class;
- the placement: cores, and where each layer runs;
- synaptic operations, spikes and the energy estimate per digit (emulator);
- wall times of training and of each backend.

Writes ``benchmarks/results/zoo_<model>.json``; ``--table`` prints the README's
table from the files there.

``--max-pool-cost`` measures what ``--max-pool avg`` costs: ``vgg_mnist``'s
architecture as a user would write it (ReLU, max pooling, softmax) is trained in
plain Keras and saved; its Keras accuracy is the baseline. The file then goes
through the pipeline with ``--max-pool avg`` (average pooling, fine-tuned through
the LIF rates) to Keras and the emulator, all 10,000 digits
(``results/zoo_max_pool_cost.json``). Example (rscnn_mnist: about 40 minutes on 2 cores
from an empty cache, most of it training and NengoDL)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_zoo.py --model rscnn_mnist
    python benchmarks/bench_zoo.py --table
"""

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo_vision as nv  # noqa: E402

from _common import RESULTS, SETTING, add_run_options, run  # noqa: E402
MODELS = ("wscnn_mnist", "rscnn_mnist", "vgg_mnist", "scnn_mnist")
BACKENDS = ("keras", "nengo-dl", "loihi-emulator")


def measure(args):
    from nengo_vision._io import write_text
    from nengo_vision.result import machine

    n_dl = args.nengo_dl_digits or args.n_test
    config = nv.Config(
        model=args.model, epochs=args.epochs, seed=args.seed, n_steps=args.n_steps,
        n_train=args.n_train,
        backends=list(BACKENDS), n_test=args.n_test,
        digits={"keras": args.n_test, "loihi-emulator": args.n_test, "nengo-dl": n_dl},
        data_dir=args.data_dir, cache_dir=args.cache_dir, progress=sys.stderr.isatty(),
    )
    config.check()
    data = nv.pipeline.load_data(config)
    model, training = nv.pipeline.train(config, data)
    result = nv.pipeline.evaluate(config, model, data, training)

    parts = {}
    for name, b in result.backends.items():
        parts[name] = dict(n_test=b.n_test, accuracy=b.accuracy, seconds=round(b.seconds, 1),
                           firing_rates={k: round(v, 2) for k, v in b.firing_rates.items()})
        print(f"{name}: {b.accuracy:.2%} on {b.n_test} ({b.seconds:.0f} s)", flush=True)
    emulator = result.backends["loihi-emulator"]
    placement = emulator.placement
    results = dict(
        model=args.model, epochs=config.epochs, seed=config.seed, n_steps=config.n_steps,
        train_noise=result.neuron.get("noise", 0.0),
        parameters=int(model.count_params()),
        training=dict(cached=training["cached"], seconds=training["seconds"]),
        backends=parts,
        agreement_nengo_dl_emulator=result.comparison.agreement["nengo-dl"]["loihi-emulator"],
        cores=placement.totals["cores"],
        host_layers=[n for n, p in placement.layers.items() if p.where == "host"],
        chip_layers=placement.on_chip,
        synops_per_digit=sum(emulator.synops_per_inference.values()),
        spikes_per_digit=sum(emulator.spikes_per_inference.values()),
        energy_joules_per_digit=emulator.energy.total_joules,
        ann_macs_per_digit=sum(result.backends["keras"].macs_per_inference.values()),
        date=datetime.date.today().isoformat(),
        machine=machine(),
    )
    out = Path(args.out) / f"zoo_{args.model}{_steps_tag(args.n_steps)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"agreement NengoDL / emulator: {results['agreement_nengo_dl_emulator']:.2%}; "
          f"{results['cores']} cores; wrote {out}")


def _training_time(training):
    if training["cached"]:
        return "cached"
    return f"{training['seconds'] / 60:.0f} min"


def _steps_tag(n_steps):
    return "" if n_steps == 30 else f"_{n_steps}steps"


def relu_vgg():
    """``vgg_mnist`` as a Keras user writes it: ReLU, max pooling, a softmax."""
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1), name="input")
    x = inp
    for block, filters in ((1, 16), (2, 32)):
        for i in (1, 2):
            x = L.Conv2D(filters, 3, padding="same", use_bias=False,
                         name=f"conv{block}_{i}")(x)
            x = L.BatchNormalization(name=f"conv{block}_{i}_bn")(x)
            x = L.ReLU(name=f"conv{block}_{i}_relu")(x)
        x = L.MaxPooling2D(2, name=f"pool{block}")(x)
    x = L.Conv2D(64, 3, activation="relu", name="conv3")(x)
    out = L.Dense(10, activation="softmax", name="output")(L.Flatten(name="flatten")(x))
    return tf.keras.Model(inp, out, name="vgg_maxpool")


def max_pool_cost(args):
    import tempfile

    import numpy as np
    import tensorflow as tf

    from nengo_vision._io import write_text
    from nengo_vision.models import get_model
    from nengo_vision.result import machine

    config = nv.Config(
        model="scnn_mnist", epochs=args.epochs, seed=args.seed, n_steps=args.n_steps,
        backends=["keras", "loihi-emulator"], n_test=args.n_test, n_train=args.n_train,
        data_dir=args.data_dir, cache_dir=args.cache_dir, progress=sys.stderr.isatty(),
        # fine-tuned with vgg_mnist's current noise: without it a batch-normalised
        # network of this depth trains to rates that its spikes do not follow
        max_pool="avg", train_noise=get_model("vgg_mnist").train_noise,
    )
    data = nv.pipeline.load_data(config)
    tf.keras.utils.set_random_seed(args.seed)
    relu = relu_vgg()
    relu.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    relu.fit(data.x_train, data.y_train, epochs=args.keras_epochs, batch_size=64, verbose=2)
    baseline = float(np.mean(np.argmax(relu.predict(data.images, verbose=0), axis=1)
                             == data.labels))
    print(f"Keras with max pooling (ReLU): {baseline:.2%}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vgg_maxpool.h5"
        relu.save(path)
        config.model = str(path)
        result = nv.pipeline.run(config)
    parts = {name: dict(accuracy=b.accuracy, n_test=b.n_test)
             for name, b in result.backends.items()}
    results = dict(
        keras_epochs=args.keras_epochs, fine_tune_epochs=config.epochs,
        n_steps=config.n_steps, seed=config.seed, train_noise=config.train_noise,
        relu_max_pool_accuracy=baseline, avg_pool=parts,
        date=datetime.date.today().isoformat(), machine=machine(),
    )
    out = Path(args.out) / "zoo_max_pool_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"--max-pool avg: Keras {parts['keras']['accuracy']:.2%}, emulator "
          f"{parts['loihi-emulator']['accuracy']:.2%}; wrote {out}")


def table(folder=RESULTS):
    rows = [
        "| model | steps | Keras | NengoDL | emulator | agree | cores | synops / digit | "
        "energy / digit | training | emulator time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    paths = [p for model in MODELS
             for p in sorted(Path(folder).glob(f"zoo_{model}*.json"),
                             key=lambda p: (len(p.name), p.name))]
    for path in paths:
        r = json.loads(path.read_text())
        model = r["model"]
        b = r["backends"]

        def acc(name):
            return f"{b[name]['accuracy']:.2%}" + (
                "" if b[name]["n_test"] == 10000 else f" ({b[name]['n_test']:,})")

        rows.append(
            f"| {model} | {r['n_steps']} | {acc('keras')} | {acc('nengo-dl')} | **{acc('loihi-emulator')}** "
            f"| {r['agreement_nengo_dl_emulator']:.2%} | {r['cores']} | "
            f"{r['synops_per_digit'] / 1e6:.2f} M | {r['energy_joules_per_digit'] * 1e6:.0f} µJ | "
            f"{r['epochs']} epochs, {_training_time(r['training'])} | "
            f"{b['loihi-emulator']['seconds']:.0f} s |"
        )
    print("\n".join(rows))
    path = Path(folder) / "zoo_max_pool_cost.json"
    if path.exists():
        r = json.loads(path.read_text())
        print(f"\nmax pooling → average (`--max-pool avg`): ReLU model with max pooling "
              f"{r['relu_max_pool_accuracy']:.2%} in Keras ({r['keras_epochs']} epochs); "
              f"after replacement and {r['fine_tune_epochs']} epochs of fine-tuning "
              f"(current noise {r.get('train_noise') or 0:g}): Keras "
              f"{r['avg_pool']['keras']['accuracy']:.2%}, emulator "
              f"{r['avg_pool']['loihi-emulator']['accuracy']:.2%} "
              f"({r['avg_pool']['loihi-emulator']['n_test']:,} digits, {r['n_steps']} steps)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--table", action="store_true", help="print the README table")
    parser.add_argument("--max-pool-cost", action="store_true",
                        help="measure what replacing max pooling by average costs")
    parser.add_argument("--keras-epochs", type=SETTING["epochs"].parse, default=3,
                        help="plain Keras epochs of the max-pooling model")
    add_run_options(parser, epochs=10)
    parser.add_argument("--nengo-dl-digits", type=SETTING["n_test"].parse, default=None,
                        help="digits NengoDL runs (default: --n-test)")
    args = parser.parse_args()

    def work():
        if args.table:
            table(args.out)
        elif args.max_pool_cost:
            max_pool_cost(args)
        elif args.model:
            measure(args)
        else:
            parser.error("give --model or --table")

    return run("bench_zoo", work)


if __name__ == "__main__":
    sys.exit(main())
