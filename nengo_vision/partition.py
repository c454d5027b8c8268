"""Placing a converted network on Loihi: which layer runs where, split across cores.

Every on-chip layer is split into blocks (one block per core) by a
``nengo_loihi.BlockShape``. Candidates are tried from the fewest cores upward, and
nengo-loihi's own build-time validation (compartments, input and output axons,
synapse memory per core) is the judge: when a block breaks a limit, the layer it
belongs to moves on to its next candidate. No per-model constants are involved.

The whole network must also fit one chip (128 cores). Splitting a layer more finely
never takes fewer cores, so a network is refused as soon as its blocks need more
cores than that, before anything is built or run.
"""

import math
import re
from dataclasses import dataclass

import nengo
import nengo_loihi
from nengo.exceptions import BuildError
from nengo_loihi.block import (
    MAX_COMPARTMENTS,
    MAX_IN_AXONS,
    MAX_OUT_AXONS,
    MAX_SYNAPSE_BITS,
)

from .errors import PlacementError

#: Cores on one Loihi chip (nengo_loihi.hardware.allocators.Greedy refuses more).
CORES_PER_CHIP = 128

#: One core's limits, as nengo-loihi's validation applies them (nengo_loihi.block).
CORE_LIMITS = dict(
    compartments=MAX_COMPARTMENTS,
    synapse_bits=MAX_SYNAPSE_BITS,
    in_axons=MAX_IN_AXONS,
    out_axons=MAX_OUT_AXONS,
)

#: The resources the report sums, in the order it shows them.
RESOURCES = ("cores",) + tuple(CORE_LIMITS)


def chip_capacity(cores_per_chip=CORES_PER_CHIP):
    """One chip's capacity per resource: its cores times each per-core limit."""
    return dict(cores=cores_per_chip, **{k: v * cores_per_chip for k, v in CORE_LIMITS.items()})


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
    cores_per_chip : int
        The chip size the placement was checked against.
    """

    on_chip: dict
    block_shapes: dict
    cores_per_chip: int = CORES_PER_CHIP


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


def _set_block_shapes(cn, blocks):
    """Set each layer's block shape; return layer → cores, as nengo-loihi counts them."""
    cores = {}
    for name, block in blocks.items():
        shape = nengo_loihi.BlockShape(block, cn.shapes[name])
        cn.net.config[cn.layers[name].ensemble].block_shape = shape
        cores[name] = int(shape.n_splits)
    return cores


def check_fits_one_chip(cores, cores_per_chip=CORES_PER_CHIP, other=0):
    """Raise if the layers' cores (plus ``other`` on-chip blocks) exceed one chip.

    Parameters
    ----------
    cores : dict
        On-chip layer name → cores it takes.
    cores_per_chip : int
    other : int
        Cores taken by on-chip blocks that belong to no layer.

    Raises
    ------
    PlacementError
        Naming every on-chip layer, largest first, and the chip's limit.
    """
    total = sum(cores.values()) + other
    if total <= cores_per_chip:
        return
    parts = sorted(cores.items(), key=lambda item: -item[1])
    takes = [f"{name} takes {n} core{'s' * (n != 1)}" if i == 0 else f"{name} {n}"
             for i, (name, n) in enumerate(parts)]
    if other:
        takes.append(f"other on-chip objects {other}")
    raise PlacementError(
        f"the network needs at least {total} cores, more than one Loihi chip's "
        f"{cores_per_chip}: {', '.join(takes)}; make the largest layers smaller or "
        f"move them to the host"
    )


def _per_core_failure(message, cn, choice):
    """The on-chip layer whose block broke a per-core limit, or a PlacementError."""
    name = _layer_of(message, cn)
    # only a broken per-core limit is cured by a smaller block
    if name is None or name not in choice or "exceeded max" not in message:
        raise PlacementError(f"cannot place the network on Loihi: {message}") from None
    return name


#: structure_key → each on-chip layer's chosen candidate: each trial is a
#: whole build of the network (about a second for scnn_mnist), and a run places
#: the same structure twice (checked before training, then built), a sweep
#: once per point
_FOUND = {}


def structure_key(cn, off_chip, dt, cores_per_chip):
    """What placement depends on: every connection's ends, sizes, transform shape
    and synapse; which layers are off the chip; the time step and chip size."""
    def transform(t):
        if isinstance(t, nengo.Convolution):
            return ("conv", t.n_filters, t.input_shape.shape, t.kernel_size, t.strides,
                    t.padding, t.channels_last)
        return (type(t).__name__, getattr(t, "shape", None))

    def end(obj):
        return (getattr(obj, "label", None), getattr(obj, "size_out", None),
                getattr(obj, "size_in", None))

    conns = sorted(
        repr((end(c.pre_obj), end(c.post_obj), c.pre_slice, c.post_slice,
              transform(c.transform), repr(c.synapse)))
        for c in cn.net.all_connections
    )
    return repr((conns, sorted(off_chip), cn.input_on_chip, dt, cores_per_chip,
                 sorted(cn.shapes.items())))


def partition(cn, off_chip=(), dt=0.001, max_tries=200, cores_per_chip=CORES_PER_CHIP):
    """Choose block shapes for every on-chip layer of ``cn`` and set them.

    Parameters
    ----------
    cn : ConvertedNetwork
    off_chip : sequence of str
        Layers to run on the host (typically the first, the input encoder).
    dt : float
    max_tries : int
        Builds to try before giving up.
    cores_per_chip : int
        Cores the whole network may take: one Loihi chip's 128 by default.

    Returns
    -------
    Placement

    Raises
    ------
    PlacementError
        If a layer cannot be split to fit a core (names the layer and the limit),
        or the network needs more cores than one chip has (names the layers).
    """
    configure(cn, off_chip)
    on_chip = [n for n in cn.layers if n not in off_chip]
    candidates = {n: candidate_blocks(cn.shapes[n]) for n in on_chip}
    key = structure_key(cn, off_chip, dt, cores_per_chip)
    if key in _FOUND:
        # a network of this structure was placed in this process: its blocks
        # are tried first (they fit unless the weights changed what a block
        # needs, which nengo-loihi's sizes do not depend on; if not, search)
        blocks = {n: candidates[n][c] for n, c in _FOUND[key].items()}
        cores = _set_block_shapes(cn, blocks)
        model = nengo_loihi.builder.Model(dt=dt)
        try:
            model.build(cn.net)
        except BuildError:
            pass
        else:
            check_fits_one_chip(cores, cores_per_chip,
                                other=max(0, len(model.blocks) - sum(cores.values())))
            return Placement(on_chip={n: n not in off_chip for n in cn.layers},
                             block_shapes=blocks, cores_per_chip=cores_per_chip)
    choice = dict.fromkeys(on_chip, 0)
    for _ in range(max_tries):
        blocks = {n: candidates[n][choice[n]] for n in on_chip}
        cores = _set_block_shapes(cn, blocks)
        # candidates only grow in cores, so a network over the chip now never fits
        check_fits_one_chip(cores, cores_per_chip)
        model = nengo_loihi.builder.Model(dt=dt)
        try:
            model.build(cn.net)
        except BuildError as e:
            name = _per_core_failure(str(e), cn, choice)
            choice[name] += 1
            if choice[name] == len(candidates[name]):
                limit = re.sub(r"^.*?: ", "", str(e))
                raise PlacementError(
                    f"layer {name} does not fit on a Loihi core even split to one "
                    f"neuron per core: {limit}; make the layer or its input smaller"
                ) from None
            continue
        # on-chip objects that are not layers take cores too
        other = max(0, len(model.blocks) - sum(cores.values()))
        check_fits_one_chip(cores, cores_per_chip, other=other)
        _FOUND[key] = dict(choice)
        return Placement(
            on_chip={n: n not in off_chip for n in cn.layers},
            block_shapes=blocks,
            cores_per_chip=cores_per_chip,
        )
    raise PlacementError(
        f"no placement found in {max_tries} builds; make the on-chip layers smaller"
    )


def _usage(blocks):
    """Summed use of each per-core resource over ``blocks``."""
    keys = {"compartments": "compartments", "synapse_bits": "synapses",
            "in_axons": "in-axons", "out_axons": "out-axons"}
    use = [b.utilization() for b in blocks]
    return {k: int(sum(u[v][0] for u in use)) for k, v in keys.items()}


def resource_report(sim, cn, placement):
    """Use of chip resources per layer and for the whole network.

    Counted from the blocks nengo-loihi built, so it is what the chip would hold.

    Parameters
    ----------
    sim : nengo_loihi.Simulator
    cn : ConvertedNetwork
    placement : Placement

    Returns
    -------
    dict
        Layer → ``{"where", "neurons"}`` for host layers and, for on-chip ones,
        also ``"block_shape", "cores", "compartments", "synapse_bits",
        "max_synapse_bits_per_core", "in_axons", "out_axons"``; plus ``"totals"``:
        for each of ``cores, compartments, synapse_bits, in_axons, out_axons`` the
        whole network's use ``R``, one chip's capacity ``R_per_chip`` and the
        fraction used ``R_fraction``. Only plain ints, floats, strings and lists,
        so it can be written as JSON.
    """
    report = {}
    for name, neurons in cn.layers.items():
        report[name] = dict(where="chip" if placement.on_chip[name] else "host",
                            neurons=int(neurons.size_out))
        if not placement.on_chip[name]:
            continue
        label = f"'{neurons.ensemble.label}'"
        blocks = [b for b in sim.model.blocks if label in str(b.label)]
        report[name].update(
            block_shape=[int(b) for b in placement.block_shapes[name]],
            cores=len(blocks),
            **_usage(blocks),
            max_synapse_bits_per_core=int(max(b.utilization()["synapses"][0] for b in blocks)),
        )
    report["totals"] = _totals(list(sim.model.blocks), placement.cores_per_chip)
    return report


def _totals(blocks, cores_per_chip):
    """The whole chip's use, capacity and fraction used, per resource."""
    use = dict(cores=len(blocks), **_usage(blocks))
    totals = {}
    for key, capacity in chip_capacity(cores_per_chip).items():
        totals[key] = use[key]
        totals[f"{key}_per_chip"] = capacity
        totals[f"{key}_fraction"] = use[key] / capacity
    return totals


def _kib(bits):
    return f"{bits / 8 / 1024:.0f}"


def _pct(fraction):
    return f"{100 * fraction:.1f} %"


#: describe()'s columns: header, width.
_COLUMNS = (("layer", 10), ("where", 5), ("neurons", 7), ("cores", 5), ("block", 12),
            ("compartments", 12), ("synapse KiB", 11), ("axons in/out", 13))


def _row(*cells):
    return "  " + " ".join(
        f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, (_, w)) in enumerate(zip(cells, _COLUMNS))
    )


def describe(report):
    """A table of which layer runs where and what it takes, then the chip's totals.

    Returns
    -------
    list of str
        One line per layer, a totals row, and the share of one chip used.
    """
    lines = [_row(*(h for h, _ in _COLUMNS))]
    for name, r in report.items():
        if name == "totals":
            continue
        if r["where"] == "host":
            lines.append(_row(name, "host", r["neurons"], *["-"] * 5))
            continue
        lines.append(_row(
            name, "chip", r["neurons"], r["cores"], "x".join(map(str, r["block_shape"])),
            r["compartments"], _kib(r["synapse_bits"]), f"{r['in_axons']}/{r['out_axons']}",
        ))
    t = report["totals"]
    lines.append(_row("total", "", "", t["cores"], "", t["compartments"],
                      _kib(t["synapse_bits"]), f"{t['in_axons']}/{t['out_axons']}"))
    lines.append(
        f"  {t['cores']} of {t['cores_per_chip']} cores ({_pct(t['cores_fraction'])}) of one "
        f"chip; of its capacity: compartments {_pct(t['compartments_fraction'])}, synapse "
        f"memory {_pct(t['synapse_bits_fraction'])}, input axons "
        f"{_pct(t['in_axons_fraction'])}, output axons {_pct(t['out_axons_fraction'])}"
    )
    return lines
