"""Beyond digits, measured (run by hand).

Three parts, each writing ``benchmarks/results/photos/<part>.json`` and its plots
there (``--table`` prints the README's tables from them):

``seed002`` — seed 002's Caltech 101 setting (motorbikes against airplanes:
1,400 training and 200 test images, 60 steps, the output neurons per class) on a
folder of colour photographs made here from MNIST, since Caltech 101 cannot be
downloaded here: 800 images each of two digits, drawn in colour at 64×64 and
written as PNG and JPEG in Caltech 101's layout (one folder per class, no
split), read with ``--dataset folder --test-fraction 0.125`` (1,400 / 200).
Trained, then run on keras, nengo-dl and the Loihi emulator; with and without
seed 002's difference-of-Gaussians input filter.

``noise`` — ``scnn_mnist`` (the main job's model) on all ``--n-test`` test
digits with Gaussian and salt-and-pepper noise at four levels each, on the ANN
(keras), NengoDL's spiking network and the Loihi emulator: does the spiking
network lose accuracy as the ANN does?

``cifar`` — ``wscnn_cifar10`` (seed 003's wide network, 20 M weights) placed on
Loihi chips (cores, chips, inter-chip traffic) and its emulator time per image.
No CIFAR-10 is on this machine: the network is untrained and the images are
random, so only the placement and the time mean anything.

About an hour on 2 cores (the noise part runs NengoDL on 90,000 digits)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_photos.py
    python benchmarks/bench_photos.py --table
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import nengo_vision as nv  # noqa: E402
from nengo_vision._io import atomic_path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SETTING, run  # noqa: E402

OUT = RESULTS / "photos"
BACKENDS = ["keras", "nengo-dl", "loihi-emulator"]
#: the made "photographs": folder name → MNIST digit (seed 002: motorbikes, airplanes)
CLASSES = {"motorbikes": 3, "airplanes": 8}
NOISE = ("gaussian:0.1,gaussian:0.2,gaussian:0.3,gaussian:0.5,"
         "salt-pepper:0.02,salt-pepper:0.05,salt-pepper:0.1,salt-pepper:0.2")


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("seed002", "noise", "cifar", "all"), default="all")
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000,
                        help="test digits of the noise part")
    parser.add_argument("--nengo-dl-digits", type=SETTING["n_test"].parse, default=None,
                        help="test digits NengoDL runs in the noise part, per noise "
                             "(default: all --n-test; about 1 minute per 1,000)")
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=15,
                        help="training epochs of the seed002 part")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--cifar-models", default="rscnn_cifar10,wscnn_cifar10",
                        help="zoo models the cifar part places and runs")
    parser.add_argument("--cifar-images", type=SETTING["n_test"].parse, default=20,
                        help="random images the cifar part runs")
    parser.add_argument("--input-filters", default="none,dog",
                        help="the seed002 part's input filters, each one run (a run's row "
                             "replaces its filter's row in seed002.json)")
    parser.add_argument("--table", action="store_true", help="print the README tables")
    return parser.parse_args()


def stamp():
    return dict(date=datetime.date.today().isoformat(),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                        f"Python {platform.python_version()}")


def save(part, record):
    OUT.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUT / f"{part}.json") as tmp:
        Path(tmp).write_text(json.dumps(dict(stamp(), **record), indent=1) + "\n")
    print(f"wrote {OUT / f'{part}.json'}")


def make_photos(root, data_dir, per_class=800):
    """Caltech 101's layout from MNIST: ``root/<class>/image_0001.png`` (odd) or
    ``.jpg`` (even), 64×64 colour, the first ``per_class`` training digits of each."""
    from PIL import Image

    from nengo_vision.datasets.mnist import MNIST

    if root.is_dir():
        return root
    mnist = MNIST().load(data_dir)
    images = np.round(mnist.x_train[..., 0] * 255).astype(np.uint8)
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, digit in CLASSES.items():
        (tmp / name).mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(mnist.y_train == digit)[:per_class]):
            g = images[i]
            rgb = np.stack([g, g // 2 + 64, 255 - g], -1).astype(np.uint8)
            picture = Image.fromarray(rgb).resize((64, 64), Image.BILINEAR)
            picture.save(tmp / name / f"image_{k + 1:04d}.{'png' if k % 2 else 'jpg'}")
    tmp.rename(root)
    return root


def seed002(args):
    from nengo_vision.training import default_cache_dir

    cache = Path(args.cache_dir or default_cache_dir())
    root = make_photos(cache / "photos-from-mnist", args.data_dir)
    path = OUT / "seed002.json"
    rows = json.loads(path.read_text())["runs"] if path.exists() else {}
    for filt in args.input_filters.split(","):
        config = nv.Config(dataset="folder", data_dir=str(root), test_fraction=0.125,
                           classes=list(CLASSES), n_steps=60, epochs=args.epochs,
                           backends=BACKENDS, input_filter=filt, cache_dir=args.cache_dir)
        start = time.time()
        result = nv.run(config)
        folder = result.write(OUT / f"seed002-{filt}")
        rows[filt] = dict(
            seconds=round(time.time() - start, 1), n_train=result.training["n_train"],
            n_test=len(result.labels), classes=list(result.classes),
            accuracy={n: b.accuracy for n, b in result.backends.items()},
            f1={n: b.f1 for n, b in result.backends.items()},
            rates={n: b.firing_rates for n, b in result.backends.items() if b.spiking},
            report=str(folder.relative_to(RESULTS)),
        )
        print(result.table())
    save("seed002", dict(setting="two classes of 64x64 colour images made from MNIST "
                                 "digits 3 and 8, 1,400 train / 200 test, 60 steps",
                         epochs=args.epochs, runs=rows))


def noise(args):
    config = nv.Config(n_test=args.n_test, backends=BACKENDS, test_noise=NOISE,
                       digits={"nengo-dl": args.nengo_dl_digits or args.n_test},
                       data_dir=args.data_dir,
                       cache_dir=args.cache_dir)
    start = time.time()
    result = nv.run(config)
    folder = result.write(OUT / "noise")
    curve = {"clean": {n: dict(accuracy=b.accuracy, n_test=b.n_test)
                       for n, b in result.backends.items()}}
    curve.update(result.noise)
    save("noise", dict(model=result.model, epochs=result.training["epochs"],
                       seconds=round(time.time() - start, 1), curve=curve,
                       report=str(folder.relative_to(RESULTS))))


def cifar(args):
    """Placement and emulator time of untrained CIFAR-10 zoo models on random images."""
    from nengo_vision.backends import get_backend
    from nengo_vision.datasets import get_dataset
    from nengo_vision.deploy import deployable
    from nengo_vision.models import get_model
    from nengo_vision.pipeline import Data, activation, context, inputs

    path = OUT / "cifar.json"
    rows = json.loads(path.read_text())["models"] if path.exists() else {}
    for name in args.cifar_models.split(","):
        config = nv.Config(model=name, dataset="cifar10", n_test=args.cifar_images,
                           chips=8, backends=["loihi-emulator"], emulator_batch=10)
        spec = get_model(name)
        model = deployable(spec.build(activation(config, spec)))
        rng = np.random.default_rng(0)
        images = rng.random((config.n_test, 32, 32, 3)).astype(np.float32)
        data = Data(get_dataset("cifar10"), images[:0], np.zeros(0, np.int64), images,
                    np.zeros(config.n_test, np.int64), np.arange(config.n_test))
        ctx = context(config, model, data)
        start = time.time()
        run_ = get_backend("loihi-emulator").run(ctx, inputs(config, data))
        seconds = time.time() - start
        totals = run_.placement["totals"]
        print(f"{name}: {totals['cores']} cores on {totals['chips']} chips "
              f"{totals['chip_cores']}; {seconds:.0f} s for {config.n_test} images "
              f"(placement and build included), of which running {run_.seconds:.1f} s")
        rows[name] = dict(n_images=config.n_test, n_steps=config.n_steps,
                          seconds_total=round(seconds, 1), seconds_run=round(run_.seconds, 1),
                          chips_allowed=config.chips, placement=run_.placement)
    save("cifar", dict(models=rows, note="untrained, random images: placement and time only"))


def table():
    for part in ("seed002", "noise", "cifar"):
        path = OUT / f"{part}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        print(f"\n{part} ({r['date']}, {r['machine']})")
        if part == "seed002":
            print("| input filter | " + " | ".join(BACKENDS) + " |")
            print("|---|" + "---:|" * len(BACKENDS))
            for filt, row in r["runs"].items():
                print(f"| {filt} | " + " | ".join(f"{100 * row['accuracy'][b]:.1f} %"
                                                  for b in BACKENDS) + " |")
        elif part == "noise":
            print("| noise | " + " | ".join(BACKENDS) + " |")
            print("|---|" + "---:|" * len(BACKENDS))
            for label, per in r["curve"].items():
                print(f"| {label} | " + " | ".join(f"{100 * per[b]['accuracy']:.2f} %"
                                                   for b in BACKENDS) + " |")
        else:
            print("| model | cores | chips (cores each) | inter-chip axons | images | "
                  "emulator s / image |")
            print("|---|---:|---|---:|---:|---:|")
            for name, m in r["models"].items():
                t = m["placement"]["totals"]
                print(f"| {name} | {t['cores']} | {t['chips']} ({', '.join(map(str, t['chip_cores']))}) "
                      f"| {100 * t['interchip_fraction']:.1f} % | {m['n_images']} | "
                      f"{m['seconds_run'] / m['n_images']:.2f} |")


def main():
    args = parse()
    if args.table:
        table()
        return 0
    parts = ("seed002", "noise", "cifar") if args.part == "all" else (args.part,)
    work = {"seed002": seed002, "noise": noise, "cifar": cifar}
    return run("bench_photos", lambda: [work[p](args) for p in parts])


if __name__ == "__main__":
    sys.exit(main())
