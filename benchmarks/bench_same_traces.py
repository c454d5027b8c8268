"""Whether a change of the code moved any result: the zoo run by an older commit
and by this checkout, every backend's traces compared array for array (run by hand).

For each zoo model the command line runs twice on the same first ``--n-test``
samples with the same cache folder (the older commit first, so both load the
same trained parameters): once from a ``git worktree`` of ``--against``, once
from this checkout. Every array of the two ``traces.npz`` (each backend's output
at every step, the recorded spikes and voltages) is compared with
``numpy.array_equal``. Models the cache does not hold trained for 15 epochs are
trained for 1 epoch on 5,000 digits (the comparison needs the same weights, not
good ones). Writes ``benchmarks/results/same_traces.json``::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_same_traces.py --against 0865e96
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BACKENDS = "keras,nengo-dl-rate,nengo-dl,nengo,loihi-emulator,nengo-loihi-emulator"
#: model → (data set, training arguments)
ZOO = {
    "scnn_mnist": ("mnist", ["--epochs", "15"]),
    "small_mnist": ("mnist", ["--epochs", "15"]),
    "tiny_mnist": ("mnist", ["--epochs", "15"]),
    "rscnn_mnist": ("mnist", ["--epochs", "1", "--n-train", "5000"]),
    "wscnn_mnist": ("mnist", ["--epochs", "1", "--n-train", "5000"]),
    "vgg_mnist": ("mnist", ["--epochs", "1", "--n-train", "5000"]),
    "scnn_nmnist": ("mnist-saccades", ["--epochs", "15"]),
    "tiny_nmnist": ("mnist-saccades", ["--epochs", "15"]),
}


def run(source, model, dataset, training, n_test, out):
    n = n_test if dataset == "mnist" else max(2, n_test // 10)
    cmd = [sys.executable, "-m", "nengo_vision.convert", "--model", model, "--dataset",
           dataset, *training, "--n-test", str(n), "--backends", BACKENDS, "--digits",
           # NengoLoihi's emulator runs a digit a second: a fifth of them
           ",".join(f"{b}={max(2, n // 5) if b == 'nengo-loihi-emulator' else n}"
                    for b in BACKENDS.split(",")), "--no-progress",
           "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(source), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{model} at {source}: exit {proc.returncode}\n{proc.stderr[-2000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="the older commit")
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--models", default=",".join(ZOO))
    parser.add_argument("--out", default=str(HERE / "results" / "same_traces.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="same_traces-"))
    old = work / "old"
    subprocess.run(["git", "worktree", "add", "--detach", str(old), args.against],
                   cwd=REPO, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    rows = []
    try:
        for model in args.models.split(","):
            dataset, training = ZOO[model]
            outs = {}
            for label, source in (("before", old), ("after", REPO)):
                outs[label] = work / label / model
                run(source, model, dataset, training, args.n_test, outs[label])
            a = np.load(outs["before"] / "traces.npz")
            b = np.load(outs["after"] / "traces.npz")
            differ = [k for k in a.files if k not in b.files or not np.array_equal(a[k], b[k])]
            row = dict(model=model, dataset=dataset, arrays=len(a.files),
                       missing_after=[k for k in a.files if k not in b.files],
                       differ=differ, equal=not differ and set(a.files) == set(b.files))
            rows.append(row)
            print(json.dumps(row))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO,
                       capture_output=True)
    data = dict(date=datetime.date.today().isoformat(),
                machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                        f"Python {platform.python_version()}",
                before=args.against, after=commit, backends=BACKENDS,
                n_test=args.n_test, rows=rows)
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(out)


if __name__ == "__main__":
    main()
