"""Remove the passthrough Nodes the Converter puts between neuron layers.

``nengo_dl.Converter`` builds ``Add``, ``Concatenate``, zero padding and every
layer without activation as a passthrough ``nengo.Node`` (no output function):
the values meet there and go on. The chip has no such place, only neurons and
the synapses between them, and nengo-loihi's own passthrough removal merges only
``Dense`` transforms (a convolution into an ``Add`` stops it with
"Mergeable transforms must be Dense"). Here each path through a passthrough
node becomes one connection, as long as one of its two halves is the identity:

- a weighted connection into the node, then the identity out of it (a linear
  convolution into an ``Add``, an ``Add`` into neurons): the weights go straight
  to the destination, at the indices the identity maps them to;
- the identity into the node, then a weighted connection out of it (neurons
  into an ``Add`` or ``Concatenate``, then a convolution): the convolution reads
  the source directly; after a ``Concatenate``, each branch gets the channels
  of the kernel that belong to it (its own ``nengo.Convolution``), and a
  ``Dense`` its own columns.

The node is linear, so the sum over paths is what it computed. Two weighted
halves in a row (two layers without neurons between them) cannot be merged this
way: they are reported, and the Loihi backends refuse them in one line.
"""

import nengo
import numpy as np
from nengo.transforms import Convolution, Dense, NoTransform


class CannotMerge(Exception):
    """Why one path through a passthrough node cannot become one connection."""


def _indices(sl, n):
    return np.arange(n)[sl]


def _is_identity(conn):
    t = conn.transform
    if isinstance(t, NoTransform):
        return True
    if isinstance(t, Dense) and not isinstance(t.init, nengo.dists.Distribution):
        w = np.asarray(t.init)
        if w.ndim == 0:
            return float(w) == 1.0
        if w.ndim == 2 and w.shape[0] == w.shape[1]:
            return np.array_equal(w, np.eye(len(w)))
    return False


def _view(obj, idx, n):
    return obj if np.array_equal(idx, np.arange(n)) else obj[idx]


def _merge(c_in, c_out, node):
    """The connection equivalent to ``c_in`` then ``c_out`` (through ``node``)."""
    if c_in.function is not None or c_out.function is not None:
        raise CannotMerge("a connection computes a function")
    if c_in.synapse is not None and c_out.synapse is not None:
        raise CannotMerge("both connections are filtered; give the layer before it "
                          "activation='relu'")
    synapse = c_in.synapse if c_out.synapse is None else c_out.synapse
    n = node.size_in
    written = _indices(c_in.post_slice, n)  # node entries c_in writes
    read = _indices(c_out.pre_slice, n)  # node entries c_out reads
    post_n = c_out.post_obj.size_in
    post_idx = _indices(c_out.post_slice, post_n)
    if _is_identity(c_out):
        # entry read[j] of the node goes to post_idx[j]
        where = {int(r): j for j, r in enumerate(read)}
        if len(where) != len(read) or any(int(w) not in where for w in written):
            raise CannotMerge("part of the node is read twice or not at all")
        target = post_idx[[where[int(w)] for w in written]]
        if isinstance(c_out.post_obj, nengo.ensemble.Neurons) and len(target) < post_n:
            # nengo-loihi connects into whole layers of neurons only
            raise CannotMerge("neurons fed by part of a merge (neurons after a "
                              "Concatenate); give each branch activation='relu'")
        post = _view(c_out.post_obj, target, post_n)
        return dict(pre=c_in.pre, post=post, transform=c_in.transform, synapse=synapse)
    if not _is_identity(c_in):
        raise CannotMerge("two weighted connections in a row (a layer without neurons "
                          "feeds another weighted layer); give the first "
                          "activation='relu'")
    if not np.array_equal(read, np.arange(n)):
        raise CannotMerge("a weighted connection reads part of the node")
    post = _view(c_out.post_obj, post_idx, post_n)
    t = c_out.transform
    if np.array_equal(written, np.arange(n)):
        return dict(pre=c_in.pre, post=post, transform=t, synapse=synapse)
    if isinstance(t, Dense) and np.ndim(t.init) == 2:
        w = np.asarray(t.init)[:, written]
        return dict(pre=c_in.pre, post=post, transform=w, synapse=synapse)
    if isinstance(t, Convolution) and t.channels_last and t.dimensions == 2:
        return dict(pre=c_in.pre, post=post, transform=_channel_slice(t, written),
                    synapse=synapse)
    raise CannotMerge(f"a {type(t).__name__} transform after a partial input")


def _channel_slice(conv, written):
    """The part of ``conv`` that reads the channels at flat indices ``written``."""
    h, w, c = conv.input_shape.shape
    grid = np.arange(h * w * c).reshape(h, w, c)
    width = len(written) // (h * w)
    c0 = int(written[0]) % c if len(written) else 0
    if width == 0 or not np.array_equal(grid[:, :, c0:c0 + width].ravel(), written):
        raise CannotMerge("the input is not a group of whole channels")
    kernel = np.asarray(conv.init)
    return Convolution(
        n_filters=conv.n_filters, input_shape=(h, w, width), kernel_size=conv.kernel_size,
        strides=conv.strides, padding=conv.padding, channels_last=True,
        init=kernel[:, :, c0:c0 + width, :],
    )


def _is_passthrough(node):
    return isinstance(node, nengo.Node) and node.output is None and node.size_in > 0


def _constant_fed(node, into):
    # a relay of constant inputs (a layer's bias): fold_biases takes those
    return all(isinstance(c.pre_obj, nengo.Node) and c.pre_obj.size_in == 0
               and not callable(c.pre_obj.output) for c in into.get(node, []))


def remove_passthroughs(net, keep=()):
    """Replace passthrough Nodes of ``net`` by direct connections, where possible.

    Parameters
    ----------
    net : nengo.Network
    keep : collection of nengo.Node
        Nodes to leave (inputs, probed outputs).

    Returns
    -------
    dict
        Label of each passthrough node left between two parts of the network →
        why it could not be removed.
    """
    probed = {p.target for p in net.all_probes}
    left = {}
    changed = True
    while changed:
        changed = False
        into, out_of = {}, {}
        for c in net.all_connections:
            into.setdefault(c.post_obj, []).append(c)
            out_of.setdefault(c.pre_obj, []).append(c)
        for node in list(net.all_nodes):
            if (not _is_passthrough(node) or node in keep or node in probed
                    or _constant_fed(node, into) or node in left):
                continue
            ins, outs = into.get(node, []), out_of.get(node, [])
            if not outs:
                continue  # read by a probe only, or by nothing
            try:
                merged = [_merge(a, b, node) for a in ins for b in outs]
            except CannotMerge as e:
                left[node] = str(e)
                continue
            _delete(net, set(ins + outs), node)
            with net:
                for kw in merged:
                    nengo.Connection(kw["pre"], kw["post"], transform=kw["transform"],
                                     synapse=kw["synapse"])
            changed = True
            break
    return {node.label: why for node, why in left.items()}


def _delete(net, conns, node):
    for sub in [net] + net.all_networks:
        sub.connections[:] = [c for c in sub.connections if c not in conns]
        sub.nodes[:] = [n for n in sub.nodes if n is not node]
