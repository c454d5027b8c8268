"""Placing a converted network on Loihi: which layer runs where, split across cores.

Every on-chip layer is split into blocks (one block per core) by a
``nengo_loihi.BlockShape``. Candidates are tried from the fewest cores upward, and
nengo-loihi's own build-time validation (compartments, input and output axons,
synapse memory per core) is the judge: when a block breaks a limit, the layer it
belongs to moves on to its next candidate. No per-model constants are involved.

The whole network must also fit the chips it is given (``chips``, 128 cores
each). Splitting a layer more finely never takes fewer cores, so a network is
refused as soon as its blocks need more cores than that, before anything is
built or run. The built blocks are then given to chips by nengo-loihi's own
greedy allocator (:func:`allocate`), the one the ``loihi`` backend hands the
board, and the report shows each chip's cores and the share of the axons between
cores that cross from one chip to another.
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

#: The most chips a network may be given (Config's ``chips`` allows as many; the
#: error advises ``--chips`` only up to this).
MAX_CHIPS = 768

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
    chips : int
        The chips the network was allowed (it was checked against
        ``chips * cores_per_chip`` cores).
    """

    on_chip: dict
    block_shapes: dict
    cores_per_chip: int = CORES_PER_CHIP
    chips: int = 1


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


def check_fits_chips(cores, cores_per_chip=CORES_PER_CHIP, chips=1, other=0):
    """Raise if the layers' cores (plus ``other`` on-chip blocks) exceed ``chips`` chips.

    Parameters
    ----------
    cores : dict
        On-chip layer name → cores it takes.
    cores_per_chip : int
    chips : int
        The chips the network may take.
    other : int
        Cores taken by on-chip blocks that belong to no layer.

    Raises
    ------
    PlacementError
        Naming every on-chip layer, largest first, the chips' limit and, where
        it is within :data:`MAX_CHIPS`, the ``--chips`` that would hold this
        many cores.
    """
    total = sum(cores.values()) + other
    budget = chips * cores_per_chip
    if total <= budget:
        return
    parts = sorted(cores.items(), key=lambda item: -item[1])
    takes = [f"{name} takes {n} core{'s' * (n != 1)}" if i == 0 else f"{name} {n}"
             for i, (name, n) in enumerate(parts)]
    if other:
        takes.append(f"other on-chip objects {other}")
    chips_text = f"1 Loihi chip's {budget}" if chips == 1 else f"{chips} Loihi chips' {budget}"
    # ``total`` is a lower bound (blocks may split further once built), so the
    # advice is the fewest chips that could hold it
    need = math.ceil(total / cores_per_chip)
    advice = f"give --chips {need}, or " if need <= MAX_CHIPS else ""
    raise PlacementError(
        f"the network needs at least {total} cores, more than {chips_text}: "
        f"{', '.join(takes)}; {advice}make the largest layers smaller or move them "
        f"to the host"
    )


def _per_core_failure(message, cn, choice):
    """The on-chip layer whose block broke a per-core limit, or a PlacementError."""
    name = _layer_of(message, cn)
    # only a broken per-core limit is cured by a smaller block
    if name is None or name not in choice or "exceeded max" not in message:
        raise PlacementError(f"cannot place the network on Loihi: {message}") from None
    return name


def _next_candidate(candidates, current, message):
    """The next block shape of a dense layer worth a build after
    ``candidates[current]`` broke the limit ``message`` names (nengo-loihi's
    "... (USED) exceeded max (MAX)").

    In a dense layer every neuron has the same inputs, so a block's synapse
    memory and compartments grow in proportion to its neurons and its input
    axons not at all: a block with more than ``MAX / USED`` of the failed
    block's neurons breaks the limit too, and is skipped without building (a
    dense layer of large fan-in, which needs a hundred cores, is then found in
    a few builds rather than a hundred). Not so for convolutions, whose blocks'
    input axons depend on their shape, not only their size.
    """
    found = re.search(r"\((\d+)\) exceeded max \((\d+)\)", message)
    if found is None:
        return current + 1
    used, limit = int(found.group(1)), int(found.group(2))
    most = math.prod(candidates[current]) * limit / used
    for i in range(current + 1, len(candidates)):
        if math.prod(candidates[i]) <= most:
            return i
    return len(candidates)


#: structure_key → each on-chip layer's chosen candidate: each trial is a
#: whole build of the network (about a second for scnn_mnist), and a run places
#: the same structure twice (checked before training, then built), a sweep
#: once per point
_FOUND = {}


def structure_key(cn, off_chip, dt, cores_per_chip, chips=1):
    """What placement depends on: every connection's ends, sizes, transform shape
    and synapse; which layers are off the chip; the time step, chip size and
    number of chips."""
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
    return repr((conns, sorted(off_chip), cn.input_on_chip, dt, cores_per_chip, chips,
                 sorted(cn.shapes.items())))


def partition(cn, off_chip=(), dt=0.001, max_tries=200, cores_per_chip=CORES_PER_CHIP,
              chips=1):
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
        Cores of one chip: a Loihi chip's 128 by default.
    chips : int
        Chips the network may take: it may have ``chips * cores_per_chip``
        cores (which chip takes which block is :func:`allocate`'s choice).

    Returns
    -------
    Placement

    Raises
    ------
    PlacementError
        If a layer cannot be split to fit a core (names the layer and the limit),
        or the network needs more cores than ``chips`` chips have (names the
        layers and the ``--chips`` that would do).
    """
    configure(cn, off_chip)
    on_chip = [n for n in cn.layers if n not in off_chip]
    candidates = {n: candidate_blocks(cn.shapes[n]) for n in on_chip}
    key = structure_key(cn, off_chip, dt, cores_per_chip, chips)
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
            check_fits_chips(cores, cores_per_chip, chips,
                             other=max(0, len(model.blocks) - sum(cores.values())))
            return Placement(on_chip={n: n not in off_chip for n in cn.layers},
                             block_shapes=blocks, cores_per_chip=cores_per_chip,
                             chips=chips)
    choice = dict.fromkeys(on_chip, 0)
    for _ in range(max_tries):
        blocks = {n: candidates[n][choice[n]] for n in on_chip}
        cores = _set_block_shapes(cn, blocks)
        # candidates only grow in cores, so a network over the chips now never fits
        check_fits_chips(cores, cores_per_chip, chips)
        model = nengo_loihi.builder.Model(dt=dt)
        try:
            model.build(cn.net)
        except BuildError as e:
            name = _per_core_failure(str(e), cn, choice)
            if len(cn.shapes[name]) == 1:  # a dense layer: see _next_candidate
                choice[name] = _next_candidate(candidates[name], choice[name], str(e))
            else:
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
        check_fits_chips(cores, cores_per_chip, chips, other=other)
        _FOUND[key] = dict(choice)
        return Placement(
            on_chip={n: n not in off_chip for n in cn.layers},
            block_shapes=blocks,
            cores_per_chip=cores_per_chip,
            chips=chips,
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


def allocate(model, chips=1, cores_per_chip=CORES_PER_CHIP):
    """Give ``model``'s blocks to chips with nengo-loihi's own greedy allocator.

    ``nengo_loihi.hardware.allocators.Greedy`` puts each block on a core of its
    own, filling one chip before it opens the next, in the order the blocks were
    built; it needs no NxSDK. The ``loihi`` backend hands the board the same
    allocator, so the chips reported are the chips the network runs on.

    Parameters
    ----------
    model : nengo_loihi.builder.Model
        A built model (``sim.model``).
    chips : int
        Chips the blocks may take.
    cores_per_chip : int

    Returns
    -------
    nengo_loihi.hardware.nxsdk_objects.Board

    Raises
    ------
    PlacementError
        If the blocks need more chips than ``chips`` (:func:`partition` refuses
        such a network first; this guards ``Greedy``'s own check, an ``assert``
        that ``python -O`` would skip).
    """
    from nengo_loihi.hardware.allocators import Greedy

    needed = math.ceil(len(model.blocks) / cores_per_chip)
    if needed > chips:
        raise PlacementError(
            f"the network's {len(model.blocks)} cores need {needed} Loihi chips of "
            f"{cores_per_chip}, more than the {chips} given; give --chips {needed}"
        )
    return Greedy(cores_per_chip=cores_per_chip)(model, chips)


def board_figures(board, chips=1):
    """Per-chip figures of an allocated board, as plain ints, floats and lists.

    Parameters
    ----------
    board : nengo_loihi.hardware.nxsdk_objects.Board
        From :func:`allocate`.
    chips : int
        The chips the network was allowed.

    Returns
    -------
    dict
        ``chips`` (used), ``chips_allowed``, ``chip_cores`` (cores on each
        chip used, in chip order), and from nengo-loihi's
        ``estimate_interchip_activity`` (every axon counted active):
        ``interchip_axons`` and ``intrachip_axons``, the axons from one core's
        block to another's that cross between chips or stay on one, and
        ``interchip_fraction``, the share that crosses (0 on one chip): the
        spikes that leave a chip's own mesh for the links between chips.
    """
    from nengo_loihi.hardware.allocators import estimate_interchip_activity

    stats = estimate_interchip_activity(board)
    # nengo-loihi counts each connected pair of blocks from 1e-16 up, so that
    # pairs with no active axons still show; the axon counts themselves are whole
    inter, intra = round(stats["interchip"]), round(stats["intrachip"])
    return dict(
        chips=int(board.n_chips),
        chips_allowed=int(chips),
        chip_cores=[int(n) for n in board.n_cores_per_chip],
        interchip_axons=int(inter),
        intrachip_axons=int(intra),
        interchip_fraction=inter / (inter + intra) if inter + intra else 0.0,
    )


def resource_report(sim, cn, placement):
    """Use of chip resources per layer and for the whole network.

    Counted from the blocks nengo-loihi built, so it is what the chips would
    hold; the blocks are given to chips by :func:`allocate`.

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
        fraction used of the chips used ``R_fraction`` (``R`` over chips used
        times ``R_per_chip``), and the per-chip figures of
        :func:`board_figures`. Only plain ints, floats, strings and lists, so it
        can be written as JSON.
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
    board = allocate(sim.model, placement.chips, placement.cores_per_chip)
    report["totals"] = _totals(list(sim.model.blocks), placement.cores_per_chip,
                               board_figures(board, placement.chips))
    return report


def _totals(blocks, cores_per_chip, figures=None):
    """The network's use, one chip's capacity and the fraction used of the chips
    used, per resource; then ``figures``, the per-chip ones (:func:`board_figures`)."""
    figures = figures or dict(chips=1)
    use = dict(cores=len(blocks), **_usage(blocks))
    totals = {}
    for key, capacity in chip_capacity(cores_per_chip).items():
        totals[key] = use[key]
        totals[f"{key}_per_chip"] = capacity
        totals[f"{key}_fraction"] = use[key] / (capacity * max(1, figures["chips"]))
    totals.update(figures)
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
    """A table of which layer runs where and what it takes, then the chips' totals.

    Returns
    -------
    list of str
        One line per layer, a totals row, and the share of one chip used (or, on
        several chips, each chip's cores, the share of their capacity used and
        the share of the axons between cores that cross chips).
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
    shares = (f"compartments {_pct(t['compartments_fraction'])}, synapse memory "
              f"{_pct(t['synapse_bits_fraction'])}, input axons "
              f"{_pct(t['in_axons_fraction'])}, output axons {_pct(t['out_axons_fraction'])}")
    if t.get("chips", 1) == 1:
        lines.append(f"  {t['cores']} of {t['cores_per_chip']} cores "
                     f"({_pct(t['cores_fraction'])}) of one chip; of its capacity: {shares}")
    else:
        lines.append(
            f"  {t['cores']} cores on {t['chips']} chips of {t['cores_per_chip']} "
            f"({' + '.join(map(str, t['chip_cores']))}; {_pct(t['cores_fraction'])}); "
            f"{_pct(t['interchip_fraction'])} of the axons between cores cross chips; "
            f"of their capacity: {shares}"
        )
    return lines
