"""Placing a converted network on Loihi: which layer runs where, split across cores.

Every on-chip layer is split into blocks (one block per core) by a
``nengo_loihi.BlockShape``. Candidates are tried from the fewest cores upward, and
nengo-loihi's own build-time validation (compartments, input and output axons,
synapse memory per core) is the judge: when a block breaks a limit, the layer it
belongs to moves on to its next candidate. No per-model constants are involved.
"""

import math
import re
from dataclasses import dataclass

import nengo_loihi
from nengo.exceptions import BuildError
from nengo_loihi.block import MAX_COMPARTMENTS

from .errors import UsageError

#: Cores on one Loihi chip.
CORES_PER_CHIP = 128


def _sizes(extent):
    """Distinct block sizes along one axis, largest first (one per core count)."""
    return sorted({math.ceil(extent / k) for k in range(1, extent + 1)}, reverse=True)


def candidate_blocks(shape, max_compartments=MAX_COMPARTMENTS):
    """Block shapes for a layer of ``shape``, fewest cores first.

    Among shapes with the same number of cores, fuller blocks come first, then
    ones that keep more of the spatial extent (a convolution's receptive fields
    then cross fewer block edges).
    """
    candidates = []

    def walk(prefix, axis):
        if axis == len(shape):
            size = math.prod(prefix)
            if size <= max_compartments:
                cores = math.prod(math.ceil(e / b) for e, b in zip(shape, prefix))
                candidates.append((cores, -size, tuple(-p for p in prefix), tuple(prefix)))
            return
        for b in _sizes(shape[axis]):
            if math.prod(prefix) * b <= max_compartments:
                walk(prefix + [b], axis + 1)

    walk([], 0)
    candidates.sort()
    return [c[-1] for c in candidates]


@dataclass
class Placement:
    """Where each neuron layer runs and how it is split.

    Attributes
    ----------
    on_chip : dict
        Layer name → True (chip) or False (host).
    block_shapes : dict
        On-chip layer name → block shape.
    """

    on_chip: dict
    block_shapes: dict


def configure(cn, off_chip=()):
    """Add nengo-loihi's config to ``cn.net`` and mark ``off_chip`` layers as host."""
    nengo_loihi.add_params(cn.net)
    for name, neurons in cn.layers.items():
        cn.net.config[neurons.ensemble].on_chip = name not in off_chip


def _layer_of(message, cn):
    for name, neurons in cn.layers.items():
        if f"'{neurons.ensemble.label}'" in message:
            return name
    return None


def partition(cn, off_chip=(), dt=0.001, max_tries=200):
    """Choose block shapes for every on-chip layer of ``cn`` and set them.

    Parameters
    ----------
    cn : ConvertedNetwork
    off_chip : sequence of str
        Layers to run on the host (typically the first, the input encoder).

    Returns
    -------
    Placement

    Raises
    ------
    UsageError
        If a layer cannot be split to fit a core: names the layer and the limit.
    """
    configure(cn, off_chip)
    on_chip = [n for n in cn.layers if n not in off_chip]
    candidates = {n: candidate_blocks(cn.shapes[n]) for n in on_chip}
    choice = dict.fromkeys(on_chip, 0)
    for _ in range(max_tries):
        for name in on_chip:
            cn.net.config[cn.layers[name].ensemble].block_shape = nengo_loihi.BlockShape(
                candidates[name][choice[name]], cn.shapes[name]
            )
        try:
            nengo_loihi.builder.Model(dt=dt).build(cn.net)
        except BuildError as e:
            message = str(e)
            name = _layer_of(message, cn)
            # only a broken per-core limit is cured by a smaller block
            if name is None or name not in choice or "exceeded max" not in message:
                raise UsageError(f"cannot place the network on Loihi: {message}") from None
            choice[name] += 1
            if choice[name] == len(candidates[name]):
                limit = re.sub(r"^.*?: ", "", message)
                raise UsageError(
                    f"layer {name} does not fit on a Loihi core even split to one "
                    f"neuron per core: {limit}; make the layer or its input smaller"
                ) from None
            continue
        return Placement(
            on_chip={n: n not in off_chip for n in cn.layers},
            block_shapes={n: candidates[n][choice[n]] for n in on_chip},
        )
    raise UsageError(
        f"no placement found in {max_tries} builds; make the on-chip layers smaller"
    )


def resource_report(sim, cn, placement):
    """Per-layer use of chip resources, from the blocks nengo-loihi built.

    Returns a dict: layer → {"where", "cores", "block_shape", "compartments",
    "synapse_bits", "in_axons", "out_axons"}, plus "totals".
    """
    report = {}
    for name, neurons in cn.layers.items():
        if not placement.on_chip[name]:
            report[name] = dict(where="host", neurons=neurons.size_out)
            continue
        label = neurons.ensemble.label
        blocks = [b for b in sim.model.blocks if f"'{label}'" in str(b.label)]
        use = [b.utilization() for b in blocks]
        report[name] = dict(
            where="chip",
            neurons=neurons.size_out,
            block_shape=list(placement.block_shapes[name]),
            cores=len(blocks),
            compartments=sum(u["compartments"][0] for u in use),
            synapse_bits=sum(u["synapses"][0] for u in use),
            max_synapse_bits_per_core=max(u["synapses"][0] for u in use),
            in_axons=sum(u["in-axons"][0] for u in use),
            out_axons=sum(u["out-axons"][0] for u in use),
        )
    chip = [r for r in report.values() if r["where"] == "chip"]
    cores = sum(r["cores"] for r in chip)
    report["totals"] = dict(
        cores=cores,
        chips=math.ceil(cores / CORES_PER_CHIP),
        cores_per_chip=CORES_PER_CHIP,
        compartments=sum(r["compartments"] for r in chip),
        synapse_bits=sum(r["synapse_bits"] for r in chip),
    )
    return report


def describe(report):
    """Lines that say which layer runs where, for the user."""
    lines = []
    for name, r in report.items():
        if name == "totals":
            continue
        if r["where"] == "host":
            lines.append(f"  {name:<10} host  {r['neurons']:>6} neurons (input encoder)")
        else:
            lines.append(
                f"  {name:<10} chip  {r['neurons']:>6} neurons on {r['cores']:>3} cores, "
                f"blocks {tuple(r['block_shape'])}, "
                f"synapse memory {r['synapse_bits'] / 8 / 1024:.0f} KiB "
                f"(max {r['max_synapse_bits_per_core'] / 2**20:.0%} of a core)"
            )
    t = report["totals"]
    lines.append(
        f"  total: {t['cores']} cores on {t['chips']} chip(s) of {t['cores_per_chip']} "
        f"cores ({t['cores'] / (t['chips'] * t['cores_per_chip']):.0%} used), "
        f"{t['compartments']} compartments"
    )
    return lines
