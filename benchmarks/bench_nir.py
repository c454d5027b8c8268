"""NIR in and out, measured (run by hand).

Two parts, each writing ``benchmarks/results/nir/<part>.json`` (``--table``
prints the README's tables from them):

``norse`` — the zoo's ``tiny_mnist`` (trained 15 epochs, cached) exported to NIR
and run in Norse beside Nengo, NengoDL's rate network (Keras) and the Loihi
emulator, on all ``--n-test`` test digits: as trained by default (2 ms
refractory period, which NIR's LIF lacks) and trained for NIR (``--tau-ref 0``
and a 60 Hz spike budget). Accuracy, agreement of the predicted class with
Nengo, firing rates per layer; and the round trip: the graph read back here
(``--model graph.nir``) fires Nengo's spikes array-equal to the original's.

``pytorch`` — the worked example: a spiking CNN trained in PyTorch with Norse
(surrogate gradients through time, 30 steps of 10 ms) on events made from
MNIST, written by Norse's own ``to_nir``, then run here from the file
(``--model graph.nir --nir-dt 0.01``) on the same test recordings streamed at
1 ms on the Loihi emulator and Nengo, with its energy. Norse 1.1.0's
``to_nir`` writes each neuron's ``tau`` as ``dt / tau_mem_inv`` (``dt`` times
the time constant): the script corrects that in the open before writing, and
says so (an upstream defect).

About 25 minutes on 2 cores with the trained ``tiny_mnist`` in the cache::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_nir.py
    python benchmarks/bench_nir.py --table
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import nengo_vision as nv  # noqa: E402
from nengo_vision._io import atomic_path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SETTING, run  # noqa: E402

OUT = RESULTS / "nir"
BACKENDS = ["keras", "nengo", "norse", "loihi-emulator"]


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("norse", "pytorch", "all"), default="all")
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--n-train", type=SETTING["n_train"].parse, default=20000,
                        help="event recordings the PyTorch network trains on")
    parser.add_argument("--torch-epochs", type=int, default=4)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--reuse", action="store_true",
                        help="pytorch: run the graph trained and written before (its "
                             "figures kept from pytorch.json) instead of training anew")
    parser.add_argument("--table", action="store_true",
                        help="print the README's tables from --out and stop")
    return parser.parse_args()


def stamp():
    return dict(date=datetime.date.today().isoformat(),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                        f"Python {platform.python_version()}")


def quiet(*args):
    pass


# ----------------------------------------------------------------------- norse

def norse_part(args, out):
    rows = []
    for label, extra in (("trained as the zoo's (tau_ref 2 ms)", {}),
                         ("trained for NIR (tau_ref 0, 60 Hz budget)",
                          dict(tau_ref=0.0, spike_budget=60.0))):
        graph = out / f"tiny_mnist{'-nir' if extra else ''}.nir"
        config = nv.Config(model="tiny_mnist", epochs=15, n_test=args.n_test,
                           backends=BACKENDS, digits={"nengo": args.n_test,
                                                      "norse": args.n_test},
                           data_dir=args.data_dir, cache_dir=args.cache_dir,
                           export_nir=str(graph), progress=False, **extra)
        start = time.perf_counter()
        result = nv.run(config, log=quiet)
        row = dict(label=label, settings=extra, seconds=round(time.perf_counter() - start, 1),
                   graph=graph.name, backends={})
        agreement = result.comparison.agreement["nengo"]
        for name, b in result.backends.items():
            row["backends"][name] = dict(
                accuracy=b.accuracy, n_test=b.n_test, agree_with_nengo=agreement[name],
                firing_rates=b.firing_rates, seconds=round(b.seconds, 1))
        # the round trip: the graph read back runs Nengo's spikes, array-equal
        back = nv.run(nv.Config(model=str(graph), n_test=args.n_test, backends=["nengo"],
                                digits={"nengo": args.n_test}, data_dir=args.data_dir,
                                cache_dir=args.cache_dir, progress=False), log=quiet)
        a, b = result.backends["nengo"].run, back.backends["nengo"].run
        row["round_trip"] = dict(
            digits=int(len(a.traces)),
            traces_equal=bool(np.array_equal(a.traces, b.traces)),
            spike_counts_equal=all(np.array_equal(a.spike_counts[k], b.spike_counts[k])
                                   for k in a.spike_counts),
            spikes=int(sum(c.sum() for c in a.spike_counts.values())))
        rows.append(row)
        print(json.dumps(row, indent=1))
    return dict(stamp(), n_test=args.n_test, rows=rows)


# --------------------------------------------------------------------- pytorch

DT_TORCH = 0.01   # 30 steps of 10 ms over the 300 ms recordings
T_TORCH = 30


def torch_events(images, labels, cache_dir, indices=None):
    """Made events of ``images`` binned into 10 ms steps: ``(n, 30, 2, 34, 34)``."""
    from nengo_vision.datasets.event_set import mnist_saccades

    events = mnist_saccades(images, labels, cache_dir, indices=indices)
    binned = events.binned(bin_us=int(DT_TORCH * 1e6), n_bins=T_TORCH)
    return np.transpose(binned, (0, 1, 4, 2, 3)).astype(np.float32), events.labels


def norse_cnn():
    import norse.torch as nt
    import torch

    lif = dict(p=nt.LIFBoxParameters(tau_mem_inv=torch.tensor(1 / 0.02)), dt=DT_TORCH)
    return nt.SequentialState(
        torch.nn.Conv2d(2, 16, 5, stride=2), nt.LIFBoxCell(**lif),
        torch.nn.Conv2d(16, 32, 5, stride=2), nt.LIFBoxCell(**lif),
        torch.nn.Flatten(), torch.nn.Linear(32 * 6 * 6, 10),
        nt.LIBoxCell(p=nt.LIBoxParameters(tau_mem_inv=torch.tensor(1 / 0.05)), dt=DT_TORCH),
    )


def norse_forward(model, x):
    """The readout's voltage at the last step, for ``x`` ``(B, T, 2, 34, 34)``."""
    state = None
    for t in range(x.shape[1]):
        out, state = model(x[:, t], state)
    return out


def pytorch_part(args, out):
    path = out / "norse_events.nir"
    if args.reuse and path.exists() and (out / "pytorch.json").exists():
        before = json.loads((out / "pytorch.json").read_text())
        keep = ("n_train", "torch_epochs", "torch_train_seconds", "train_accuracy",
                "norse_accuracy", "nodes", "tau_corrected")
        return dict(before, **{k: before[k] for k in keep}, **run_here(args, path),
                    reused_training_of=before["date"])
    return dict(train_in_norse(args, out, path), **run_here(args, path))


def train_in_norse(args, out, path):
    import nir
    import norse.torch as nt
    import torch
    from tqdm.auto import tqdm

    from nengo_vision.datasets.mnist import load_mnist
    from nengo_vision.training import default_cache_dir

    torch.manual_seed(0)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data_dir)
    n = args.n_train
    xs, ys = torch_events(x_train[:n], y_train[:n], cache)
    xt, yt = torch_events(x_test[:args.n_test], y_test[:args.n_test], cache)
    model = norse_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    history = []
    for epoch in range(args.torch_epochs):
        order = np.random.RandomState(epoch).permutation(len(xs))
        correct = 0
        for i in tqdm(range(0, len(xs), 64), desc=f"Norse epoch {epoch + 1}", leave=False):
            idx = order[i:i + 64]
            x, y = torch.from_numpy(xs[idx]), torch.from_numpy(ys[idx].astype(np.int64))
            logits = norse_forward(model, x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == y).sum())
        history.append(correct / len(xs))
        print(f"Norse epoch {epoch + 1}: training accuracy {history[-1]:.4f}")
    train_seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = np.concatenate([norse_forward(model, torch.from_numpy(xt[i:i + 500]))
                                    .argmax(1).numpy() for i in range(0, len(xt), 500)])
    norse_accuracy = float(np.mean(predicted == yt))
    print(f"Norse on {len(yt)} test recordings (10 ms steps): {norse_accuracy:.4f}")

    graph = nt.to_nir(model, torch.from_numpy(xs[:1, 0]), dt=DT_TORCH)
    conv_inputs, x = {}, torch.zeros(1, 2, 34, 34)
    for i, layer in enumerate(model):
        if isinstance(layer, torch.nn.Conv2d):
            conv_inputs[str(i)] = tuple(x.shape[-2:])
            x = layer(x)
    corrected = []
    for key, node in list(graph.nodes.items()):
        if type(node).__name__ in ("LIF", "LI"):
            # Norse 1.1.0 writes tau = dt / tau_mem_inv = dt * tau; and its
            # parameters as 0-d tensors, which nir.write cannot store (h5py
            # compresses every array): one-element arrays, read as one value
            fields = {f: np.atleast_1d(np.asarray(getattr(node, f), dtype=np.float64))
                      for f in ("tau", "r", "v_leak", "v_threshold", "v_reset")
                      if hasattr(node, f)}
            written = float(fields["tau"][0])
            fields["tau"] = fields["tau"] / DT_TORCH
            graph.nodes[key] = getattr(nir, type(node).__name__)(**fields)
            corrected.append(dict(node=key, defect="tau written as dt * tau; 0-d parameters",
                                  written=written, corrected=written / DT_TORCH))
        if type(node).__name__ == "Conv2d" and node.input_shape is None:
            # Norse 1.1.0 leaves Conv2d's input_shape None, which nir.write
            # cannot store: the shape the layer reads, from the PyTorch model
            graph.nodes[key] = nir.Conv2d(
                input_shape=conv_inputs[key], weight=np.asarray(node.weight),
                stride=node.stride, padding=node.padding, dilation=node.dilation,
                groups=node.groups, bias=np.asarray(node.bias))
            corrected.append(dict(node=key, defect="Conv2d input_shape None",
                                  corrected=str(conv_inputs[key])))
        if node is None:
            # Norse 1.1.0 has no case for torch.nn.Flatten: the node is None, and
            # nir.write fails on it. Written as PyTorch's flatten means it
            # (start_dim=1, counting the batch axis NIR's shapes do not have)
            graph.nodes[key] = nir.Flatten(input_type={"input": np.array([32, 6, 6])},
                                           start_dim=1)
            corrected.append(dict(node=key, defect="Flatten exported as None",
                                  corrected="nir.Flatten(start_dim=1)"))
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
    kinds = {k: type(v).__name__ for k, v in graph.nodes.items()}
    return dict(n_train=n, torch_epochs=args.torch_epochs,
                torch_train_seconds=round(train_seconds, 1), train_accuracy=history,
                norse_accuracy=norse_accuracy, nodes=kinds, tau_corrected=corrected)


def run_here(args, path):
    """The graph from the file, on the test recordings streamed at 1 ms steps:
    the Loihi emulator on all, Nengo and Norse (now at 1 ms steps too) on 1,000."""
    few = min(args.n_test, 1000)
    config = nv.Config(model=str(path), dataset="mnist-saccades", nir_dt=DT_TORCH,
                       n_test=args.n_test, backends=["nengo", "norse", "loihi-emulator"],
                       digits={"nengo": few, "norse": few}, data_dir=args.data_dir,
                       cache_dir=args.cache_dir, progress=False)
    start = time.perf_counter()
    result = nv.run(config, log=print)
    here = {}
    for name, b in result.backends.items():
        here[name] = dict(accuracy=b.accuracy, n_test=b.n_test, firing_rates=b.firing_rates,
                          energy_uJ=None if b.energy is None else b.energy.total_joules * 1e6,
                          seconds=round(b.seconds, 1))
    return dict(stamp(), n_test=args.n_test, here=here,
                here_seconds=round(time.perf_counter() - start, 1),
                agreement=result.comparison.agreement)


# ----------------------------------------------------------------------- table

def table(out):
    norse = json.loads((out / "norse.json").read_text())
    print(f"tiny_mnist, {norse['n_test']} test digits, 30 steps ({norse['date']}, "
          f"{norse['machine']})\n")
    print("| trained | backend | accuracy | agrees with Nengo | rates conv0 / conv1 (Hz) |")
    print("|---|---|---:|---:|---|")
    for row in norse["rows"]:
        for name, b in row["backends"].items():
            rates = " / ".join(f"{v:.1f}" for v in b["firing_rates"].values())
            print(f"| {row['label']} | {name} | {b['accuracy'] * 100:.2f} % | "
                  f"{b['agree_with_nengo'] * 100:.2f} % | {rates} |")
    for row in norse["rows"]:
        rt = row["round_trip"]
        print(f"\nround trip ({row['label']}): {rt['digits']} digits, {rt['spikes']:,} "
              f"spikes; traces equal: {rt['traces_equal']}, spike counts equal: "
              f"{rt['spike_counts_equal']}")
    path = out / "pytorch.json"
    if path.exists():
        p = json.loads(path.read_text())
        print(f"\nPyTorch (Norse) on events: trained {p['torch_epochs']} epochs on "
              f"{p['n_train']} recordings in {p['torch_train_seconds']:.0f} s; "
              f"Norse {p['norse_accuracy'] * 100:.2f} % on {p['n_test']} ({p['date']})")
        for name, b in p["here"].items():
            energy = "" if b["energy_uJ"] is None else f", {b['energy_uJ']:.1f} µJ"
            agree = p["agreement"]["loihi-emulator"][name] * 100
            print(f"  here, {name}: {b['accuracy'] * 100:.2f} % on {b['n_test']}{energy}; "
                  f"same class as the emulator {agree:.2f} %")


def main():
    args = parse()
    out = Path(args.out)
    if args.table:
        table(out)
        return
    out.mkdir(parents=True, exist_ok=True)
    for part, work in (("norse", norse_part), ("pytorch", pytorch_part)):
        if args.part in (part, "all"):
            data = work(args, out)
            tmp = out / f".{part}.json.tmp"
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            tmp.replace(out / f"{part}.json")


if __name__ == "__main__":
    sys.exit(run("bench_nir", main))
