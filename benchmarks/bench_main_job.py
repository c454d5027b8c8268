"""Wall time of the main job, stage by stage, from an empty cache (run by hand).

Runs ``python -m nengo_vision.convert --model scnn_mnist`` with its default
settings exactly as a user would, in a subprocess, with a fresh temporary cache
folder (so it trains), and times it:

- each stage the pipeline records in ``results.json`` (``timings``: loading the
  data, the checks before training, training, and the backends with the
  comparison), each backend's own seconds, and each training epoch (Keras's
  log lines);
- start-up (imports and options, until the pipeline's first stage), writing the
  report, and the total, from the moments the run's log lines arrive.

It also records the accuracies (Keras and the Loihi emulator on all 10,000
test digits, the others on theirs), the date, the machine and the load
average before and after (the run's times grow with whatever else the machine
runs). Writes ``benchmarks/results/main_job.json`` (or ``--out``) and prints
a Markdown table of stage times. Example (about 10 minutes on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_main_job.py
    python benchmarks/bench_main_job.py --table   # the table of the last run
"""

import argparse
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS

COMMAND = [sys.executable, "-m", "nengo_vision.convert", "--model", "scnn_mnist",
           "--no-progress"]
#: Keras's line at the end of an epoch (verbose=2): "938/938 - 44s - ... - 47ms/step"
EPOCH_LINE = re.compile(r"^\s*(\d+)/\1 - (\d+)s - .* - (\d+)ms/step")


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="folder of mnist.npz (default: $NENGO_VISION_DATA)")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="keep the run's report and cache in DIR (default: a "
                             "temporary folder, removed afterwards)")
    parser.add_argument("--out", default=str(RESULTS / "main_job.json"))
    parser.add_argument("--note", default="",
                        help="what else ran on the machine meanwhile, kept with the figures")
    parser.add_argument("--table", action="store_true",
                        help="print the table of --out, without running")
    return parser.parse_args()


def run_job(folder, data_dir):
    """Run the main job with its cache and report in ``folder``; return the
    lines of its output, each with the seconds since the start, the total, and
    the processor seconds it used (user and system: what other programs
    running beside it change least)."""
    env = dict(os.environ, NENGO_VISION_CACHE=str(folder / "cache"), PYTHONUNBUFFERED="1")
    if data_dir:
        env["NENGO_VISION_DATA"] = str(data_dir)
    lines = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with subprocess.Popen(COMMAND + ["--out", str(folder / "run")], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
            print(line, end="", flush=True)
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"bench_main_job: the main job failed (exit status {proc.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return lines, total, cpu


def first(lines, prefix):
    """Seconds at which the first line starting with ``prefix`` arrived."""
    return next(t for t, line in lines if line.startswith(prefix))


def stage_times(lines, total, results):
    """Seconds per stage, in the order they run."""
    timings = results["timings"]
    backends = {name: b["seconds"] for name, b in results["backends"].items()}
    # the pipeline's "train" stage ends as it logs the saved parameters
    trained = first(lines, "saved trained parameters")
    pipeline_start = trained - timings["train"] - timings["check"] - timings["load_data"]
    evaluated = trained + timings["evaluate"]
    stages = {"start-up (Python, options; TensorFlow is imported in load data)": pipeline_start,
              "load data": timings["load_data"],
              "checks before training (placement of the untrained network)":
                  timings["check"],
              "training": timings["train"]}
    stages.update({f"backend {name}": s for name, s in backends.items()})
    stages["comparison (metrics)"] = timings["evaluate"] - sum(backends.values())
    stages["report (plots, tables, files) and exit"] = total - evaluated
    return {k: round(v, 1) for k, v in stages.items()}


def main():
    from nengo_vision._io import write_text
    from nengo_vision.result import machine

    args = parse()
    out = Path(args.out)
    if args.table:
        print(table(json.loads(out.read_text())))
        return
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_main_job-") as tmp:
        folder = Path(args.keep or tmp)
        lines, total, cpu = run_job(folder, args.data_dir)
        results = json.loads((folder / "run" / "results.json").read_text())
    epochs = [dict(seconds=int(m[2]), ms_per_step=int(m[3]), steps=int(m[1]))
              for m in (EPOCH_LINE.match(line) for _, line in lines) if m]
    record = dict(
        date=datetime.date.today().isoformat(),
        machine=machine(),
        command=" ".join(["python"] + COMMAND[1:]) + " --out DIR",
        cache="empty (a new temporary folder)",
        note=args.note,
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        total_seconds=round(total, 1),
        cpu_seconds=round(cpu, 1),
        stages=stage_times(lines, total, results),
        training_epochs=epochs,
        accuracy={name: dict(accuracy=b["accuracy"], n_test=b["n_test"])
                  for name, b in results["backends"].items()},
        training_cached=results["training"]["cached"],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(record, indent=2) + "\n")
    print()
    print(table(record))


def table(record):
    """The stage times and accuracies as a Markdown table."""
    rows = ["| stage | wall time |", "|---|---|"]
    rows += [f"| {stage} | {seconds:.1f} s |" for stage, seconds in record["stages"].items()]
    rows.append(f"| **total** | **{record['total_seconds']:.0f} s "
                f"({record['total_seconds'] / 60:.1f} min)** |")
    epochs = record["training_epochs"]
    if epochs:
        mean = sum(e["seconds"] for e in epochs) / len(epochs)
        step = sum(e["ms_per_step"] for e in epochs) / len(epochs)
        rows.append(f"\ntraining: {len(epochs)} epochs, {mean:.0f} s per epoch, "
                    f"{step:.0f} ms per step of {epochs[0]['steps']} steps")
    rows.append("\n| backend | digits | accuracy |\n|---|---|---|")
    rows += [f"| {name} | {a['n_test']:,} | {a['accuracy'] * 100:.2f} % |"
             for name, a in record["accuracy"].items()]
    if "cpu_seconds" in record:
        rows.append(f"\nprocessor time (user + system): {record['cpu_seconds']:.0f} s")
    rows.append(f"\n{record['date']}, {record['machine']}; load average before "
                f"{record['load_average_before'][0]:.1f}, after "
                f"{record['load_average_after'][0]:.1f}" + (f"; {record['note']}"
                                                            if record.get("note") else ""))
    return "\n".join(rows)


if __name__ == "__main__":
    main()
