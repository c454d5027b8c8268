"""A NIR graph as a deployed network (``--model graph.nir``).

The graph is walked from its ``Input`` in the order of its edges. Weights nodes
(``Conv2d``, ``Affine``, ``Linear``) become layers; the neuron node after one
(``LIF``, ``CubaLIF``, ``IF``, ``Threshold``) becomes its neurons, with ``r``,
``v_threshold`` and ``v_leak`` folded into its weights and bias (nengo's LIF has
a threshold of 1 and no leak voltage); several weights nodes into one neuron
node become a sum. ``Scale``, ``SumPool2d``, ``AvgPool2d`` and ``Flatten`` are folded into
the weights after them; ``LI`` or ``I`` before ``Output`` becomes the readout. What
the graph cannot run here is refused in one line naming the node.

Spikes are 1 for one step of ``dt`` (see :mod:`nengo_vision.interop`), so the
neurons of an imported graph have ``amplitude = dt``. A graph written by
:mod:`.nir_export` carries its network's own parameters in the nodes' metadata
and comes back exactly.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from .nir_export import META, _nir

#: Node types read (the README's table is :data:`nengo_vision.interop.NODES`).
SUPPORTED = ("Input", "Output", "Affine", "Linear", "Conv2d", "SumPool2d", "AvgPool2d",
             "Flatten", "Scale", "LIF", "IF", "LI", "CubaLIF", "I", "Threshold")
NEURONS = ("LIF", "IF", "CubaLIF", "Threshold")
#: the time step (s) the pipeline runs at
RUN_DT = 0.001
#: tau_rc (s) of the LIF neuron that stands for NIR's IF
IF_TAU = 1000.0


@dataclass
class Imported:
    """What a NIR graph gives: the network and the settings it implies.

    Attributes
    ----------
    network : Network
    settings : dict
        Run settings the graph fixes (``synapse``, ``input_synapse``,
        ``output_synapse``, ``readout``), used unless the run gives them.
    dt : float
        The time step the graph is read with.
    notes : list of str
        How the graph was read where it was ambiguous (also warned).
    """

    network: object
    settings: dict
    dt: float
    notes: list = field(default_factory=list)


def read_graph(path):
    """``nir.read(path)``, or a one-line ModelError naming the file."""
    nir = _nir()
    try:
        # NIR's own type inference refuses graphs PyTorch exporters write (an
        # Input with a batch axis); shapes are worked out here, node by node
        return nir.read(str(path), type_check=False)
    except Exception as e:  # h5py and nir raise many types; all mean "not a graph"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot read NIR graph {path}: {reason[:200]}; give a file "
                         f"written by nir.write (NIR 1.0)") from None


def network_from_nir(graph, name="nir", dt=None, input_scale=None):
    """An :class:`Imported` network from a :class:`nir.NIRGraph`.

    Parameters
    ----------
    graph : nir.NIRGraph
    name : str
        The network's name.
    dt : float, optional
        The step the graph's spikes and weights assume; default: the graph's
        ``metadata["dt"]``, else 0.001 s.
    input_scale : float or None
        Where the input is spikes, the value one has here for a step of
        :data:`RUN_DT` (an event data set's ``event_gain``); in the graph it is 1
        for a step of ``dt``, so the weights on the input are multiplied by
        ``dt / (RUN_DT * input_scale)``. None for images held as values.
    """
    meta_dt = graph.metadata.get("dt") if isinstance(graph.metadata, dict) else None
    given = dt if dt is not None else (meta_dt if meta_dt is not None else 0.001)
    try:
        dt = float(np.asarray(given))
    except (TypeError, ValueError):
        dt = float("nan")
    if not np.isfinite(dt) or dt <= 0:
        raise ModelError(f"the NIR graph's time step dt={given!r} (its metadata) is not a "
                         f"positive number; give one with --nir-dt")
    return _Reader(graph, name, dt, input_scale).read()


def _uniform(node_name, field_name, values):
    values = np.asarray(values, dtype=np.float64)
    if values.size and not np.all(values == values.flat[0]):
        raise ModelError(
            f"node {node_name!r}: {field_name} differs across its neurons; one value per "
            f"node runs here (one neuron type per layer)"
        )
    return float(values.flat[0]) if values.size else 0.0


class _Reader:
    def __init__(self, graph, name, dt, input_scale=None):
        self.graph, self.name, self.dt = graph, name, dt
        self.input_scale = None if input_scale is None else float(input_scale)
        self.nodes = graph.nodes
        self.layers = {}
        self.notes = []
        # NIR node → (layer carrying its output, pending elementwise scale, shape CHW)
        self.state = {}
        self.synapses = {}  # neuron layer → tau_syn (None: no synapse)
        self.settings = {}
        self.no_bias = set()  # weights layers written here without a bias

    # ---------------------------------------------------------------- walking

    def read(self):
        from ..deploy.network import Network

        for key, node in self.nodes.items():
            kind = type(node).__name__
            if kind not in SUPPORTED:
                raise ModelError(
                    f"NIR node {key!r} is a {kind}, which cannot run here; supported node "
                    f"types: {', '.join(SUPPORTED)}"
                )
        inputs = [k for k, n in self.nodes.items() if type(n).__name__ == "Input"]
        outputs = [k for k, n in self.nodes.items() if type(n).__name__ == "Output"]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"the NIR graph has {len(inputs)} Input and {len(outputs)} "
                             f"Output nodes; one of each runs here")
        into = {k: [] for k in self.nodes}
        for edge in self.graph.edges:
            if len(edge) != 2:
                raise ModelError(f"NIR edge {edge!r} is not a pair (source, target)")
            src, dst = edge
            if src not in self.nodes or dst not in self.nodes:
                raise ModelError(f"NIR edge {src!r} → {dst!r} names a node the graph "
                                 f"does not have")
            if src in into[dst]:
                raise ModelError(f"NIR edge {src!r} → {dst!r} is listed twice; list "
                                 f"each edge once")
            into[dst].append(src)
        for key in _topological(self.nodes, self.graph.edges, inputs[0]):
            try:
                self.visit(key, self.nodes[key], into[key])
            except ModelError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError, AssertionError,
                    IndexError) as e:
                # a field of the wrong shape or type: name the node, not the line
                raise ModelError(
                    f"NIR node {key!r} ({type(self.nodes[key]).__name__}) cannot be read: "
                    f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
                ) from None
        out = self.state[outputs[0]][0]
        for name in self.no_bias:
            if name in self.layers and not np.any(self.layers[name].bias):
                self.layers[name].bias = None
        self.settings.update(self._synapse_settings())
        for note in self.notes:
            warnings.warn(note, stacklevel=3)
        return Imported(Network(self.name, self.layers, out), self.settings, self.dt,
                        self.notes)

    def visit(self, key, node, srcs):
        kind = type(node).__name__
        if kind == "Input":
            shape = tuple(int(s) for s in node.input_type["input"])
            if len(shape) == 4 and shape[0] == 1:
                self.notes.append(
                    f"NIR Input {key!r} has shape {shape}, with a batch axis of 1 (as "
                    f"PyTorch exporters write it); read as {shape[1:]}")
                shape = shape[1:]
            if len(shape) == 2:
                shape = (1,) + shape
            if len(shape) != 3:
                raise ModelError(
                    f"NIR Input {key!r} has shape {shape}; images run here: give the "
                    f"Input a (channels, height, width) shape")
            self._add(key, "input", [], (shape[1], shape[2], shape[0]))
            # an input spike is 1 for a step of the graph's dt there (an area of dt),
            # and input_scale for a step of RUN_DT here; values held need no scale
            self.state[key] = (key, 1.0 if self.input_scale is None
                               else self.dt / (RUN_DT * self.input_scale), shape)
            return
        if not srcs:
            raise ModelError(f"NIR node {key!r} ({kind}) has no input edge")
        if len(srcs) > 1 and kind not in NEURONS + ("Output",):
            raise ModelError(f"NIR node {key!r} ({kind}) has {len(srcs)} inputs; only "
                             f"neuron nodes and Output may sum several here")
        getattr(self, "visit_" + kind.lower())(key, node, srcs)

    # -------------------------------------------------------------- weights

    def visit_conv2d(self, key, node, srcs):
        layer, scale, shape = self._spikes_of(srcs[0], key)
        w = np.asarray(node.weight, np.float64)
        if w.ndim != 4:
            raise ModelError(f"NIR Conv2d {key!r}: weight of shape {w.shape}; expected "
                             f"(out, in, height, width)")
        if tuple(np.atleast_1d(node.dilation)) not in ((1,), (1, 1)) or node.groups != 1:
            raise ModelError(f"NIR Conv2d {key!r}: dilation and groups other than 1 "
                             f"cannot run on Loihi here")
        if w.shape[1] != shape[0]:
            raise ModelError(f"NIR Conv2d {key!r} takes {w.shape[1]} channels but its "
                             f"input has {shape[0]} (shape {shape})")
        if not _ours(node):
            w = w * _per_channel(scale, shape, key)[None, :, None, None]
        stride = tuple(int(s) for s in np.broadcast_to(node.stride, 2))
        padding = self._padding(key, node.padding, w.shape[2:], stride, shape[1:])
        bias = np.zeros(w.shape[0]) if node.bias is None else np.asarray(node.bias, float)
        if np.ndim(bias) != 1:
            bias = np.broadcast_to(bias, (w.shape[0],))
        w, bias = self._unscale(key, node, w, bias)
        kernel = np.transpose(w, (2, 3, 1, 0))
        h, wd = shape[1:]
        if padding == "same":
            oh, ow = -(-h // stride[0]), -(-wd // stride[1])
        else:
            oh = (h - w.shape[2]) // stride[0] + 1
            ow = (wd - w.shape[3]) // stride[1] + 1
        self._add(key, "conv2d", [layer], (oh, ow, w.shape[0]), kernel=kernel, bias=bias,
                  strides=stride, padding=padding)
        self.state[key] = (key, 1.0, (w.shape[0], oh, ow))

    def visit_affine(self, key, node, srcs, bias=True):
        layer, scale, shape = self._spikes_of(srcs[0], key)
        w = np.asarray(node.weight, np.float64)
        n_in = int(np.prod(shape))
        if w.ndim != 2 or w.shape[1] != n_in:
            raise ModelError(f"NIR {type(node).__name__} {key!r}: weight of shape "
                             f"{w.shape} does not take its input of shape {shape} "
                             f"({n_in} values)")
        if not _ours(node):
            w = w * np.broadcast_to(np.asarray(scale, float), shape).reshape(-1)[None, :]
        if len(shape) == 3:
            if self.layers[layer].kind != "flatten":
                raise ModelError(f"NIR {type(node).__name__} {key!r} reads a {shape} "
                                 f"array; put a Flatten before it")
            c, h, wd = shape
            # NIR flattened (c, h, w); Keras flattens (h, w, c)
            order = np.arange(n_in).reshape(c, h, wd).transpose(1, 2, 0).ravel()
            w = w[:, order]
        b = (np.asarray(node.bias, float) if bias and node.bias is not None
             else np.zeros(w.shape[0]))
        w, b = self._unscale(key, node, w, b)
        self._add(key, "dense", [layer], (w.shape[0],), kernel=w.T, bias=b)
        self.state[key] = (key, 1.0, (w.shape[0],))

    def visit_linear(self, key, node, srcs):
        self.visit_affine(key, node, srcs, bias=False)

    def _unscale(self, key, node, w, b):
        """Undo the scaling :mod:`.nir_export` applied (metadata); identity otherwise."""
        meta = node.metadata or {}
        if META + "scale" in meta:
            w = w / float(meta[META + "scale"])
            b = b / float(meta.get(META + "bias_scale", meta[META + "scale"]))
            if not int(meta.get(META + "has_bias", 1)):
                self.no_bias.add(key)
        return w.astype(np.float32), np.asarray(b, np.float32)

    def _padding(self, key, padding, ksize, stride, size):
        """Keras's padding for NIR's: 'valid', or 'same' where TensorFlow's 'same'
        pads exactly as the graph does (evenly on both sides)."""
        # TensorFlow's 'same': total = (ceil(n / s) - 1) s + k - n, the extra one after
        same = [max((-(-n // s) - 1) * s + k - n, 0) for n, k, s in zip(size, ksize, stride)]
        if isinstance(padding, (str, bytes)):
            padding = padding.decode() if isinstance(padding, bytes) else padding
            if padding == "valid":
                return "valid"
            if padding == "same" and stride == (1, 1):
                return "same"
        else:
            pads = tuple(int(p) for p in np.broadcast_to(padding, 2))
            if pads == (0, 0):
                return "valid"
            if all(2 * p == t for p, t in zip(pads, same)):
                return "same"
        raise ModelError(
            f"NIR Conv2d {key!r}: padding {padding!r} with kernel {tuple(ksize)} and stride "
            f"{stride} on a {tuple(size)} input cannot run here; pad as TensorFlow's 'same' "
            f"does (evenly), or not at all")

    # -------------------------------------------------------- shape and scale

    def visit_flatten(self, key, node, srcs):
        layer, scale, shape = self._spikes_of(srcs[0], key)
        start = int(node.start_dim)
        if start not in (0, -len(shape)):
            if start == 1:
                self.notes.append(
                    f"NIR Flatten {key!r} has start_dim=1 on a {shape} input without a "
                    f"batch axis; read as flattening all of it, as PyTorch exporters mean "
                    f"(their batch axis comes first)")
            else:
                raise ModelError(f"NIR Flatten {key!r}: start_dim={start} keeps part of "
                                 f"its {shape} input; only a full flatten runs here")
        self._add(key, "flatten", [layer], (int(np.prod(shape)),))
        self.state[key] = (key, scale, shape)  # the next Affine reorders and scales

    def visit_scale(self, key, node, srcs):
        layer, scale, shape = self.state[srcs[0]]
        s = np.asarray(node.scale, float)
        if self.layers[layer].kind in ("conv2d", "dense") and self.layers[layer].neuron is None:
            # a current, before its neurons: into the weights and bias
            lay = self.layers[layer]
            per = _per_channel(s, shape, key)
            lay.kernel = (lay.kernel * per).astype(np.float32)
            lay.bias = (lay.bias * per).astype(np.float32)
            self.state[key] = (layer, scale, shape)
            return
        self.state[key] = (layer, scale * s.reshape(shape) if s.ndim else scale * float(s),
                           shape)

    def visit_avgpool2d(self, key, node, srcs, area_factor=False):
        layer, scale, shape = self._spikes_of(srcs[0], key)
        k = tuple(int(v) for v in np.broadcast_to(node.kernel_size, 2))
        s = tuple(int(v) for v in np.broadcast_to(node.stride, 2))
        if np.any(np.asarray(node.padding) != 0):
            raise ModelError(f"NIR {type(node).__name__} {key!r}: padded pooling cannot "
                             f"run here; pool without padding")
        c, h, w = shape
        out = (c, (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1)
        self._add(key, "avgpool", [layer], (out[1], out[2], c), pool=k, strides=s)
        factor = k[0] * k[1] if area_factor else 1.0
        self.state[key] = (key, _per_channel(scale, shape, key).reshape(-1, 1, 1) * factor
                           if np.ndim(scale) else scale * factor, out)

    def visit_sumpool2d(self, key, node, srcs):
        self.visit_avgpool2d(key, node, srcs, area_factor=True)

    # ---------------------------------------------------------------- neurons

    def visit_lif(self, key, node, srcs):
        self._neurons(key, node, srcs, tau=_uniform(key, "tau", node.tau),
                      r=node.r, v_th=node.v_threshold, v_leak=node.v_leak,
                      v_reset=node.v_reset)

    def visit_cubalif(self, key, node, srcs):
        self._neurons(key, node, srcs, tau=_uniform(key, "tau_mem", node.tau_mem),
                      r=np.asarray(node.r) * np.asarray(node.w_in), v_th=node.v_threshold,
                      v_leak=node.v_leak, v_reset=node.v_reset,
                      tau_syn=_uniform(key, "tau_syn", node.tau_syn))

    def visit_if(self, key, node, srcs):
        self._neurons(key, node, srcs, tau=IF_TAU, r=np.asarray(node.r) * IF_TAU,
                      v_th=node.v_threshold, v_leak=0.0, v_reset=node.v_reset)

    def visit_threshold(self, key, node, srcs):
        self._neurons(key, node, srcs, tau=RUN_DT / 10, r=1.0, v_th=node.threshold,
                      v_leak=0.0, v_reset=0.0)

    def _neurons(self, key, node, srcs, tau, r, v_th, v_leak, v_reset, tau_syn=None):
        from ..deploy.network import Neuron

        if np.any(np.asarray(v_reset) != 0):
            raise ModelError(
                f"NIR {type(node).__name__} {key!r}: v_reset is not 0; Loihi resets the "
                f"voltage to zero: shift v_leak and v_threshold by -v_reset")
        if np.any(np.asarray(v_th) <= 0):
            raise ModelError(f"NIR {type(node).__name__} {key!r}: v_threshold must be "
                             f"positive")
        layers, skips = [], []
        for src in srcs:
            layer, scale, shape = self.state[src]
            lay = self.layers[layer]
            if lay.neuron is not None and len(srcs) > 1:
                # spikes summed straight into these neurons (a residual's identity path)
                skips.append((lay, _uniform(src, "the scale of spikes summed", scale)))
                continue
            if lay.kind not in ("conv2d", "dense") or lay.neuron is not None:
                raise ModelError(
                    f"NIR {type(node).__name__} {key!r} is fed by {src!r}, not by a weights "
                    f"node (Conv2d, Affine, Linear); put weights before every neuron node")
            layers.append(lay)
        shape = self.state[srcs[0]][2]
        per = _per_channel(np.asarray(r, float) / np.asarray(v_th, float) *
                           np.ones(shape), shape, key)
        leak = _per_channel(np.asarray(v_leak, float) / np.asarray(v_th, float) *
                            np.ones(shape), shape, key)
        meta = node.metadata or {}
        gain = float(meta.get(META + "gain", 1.0))
        if skips and META + "gain" not in meta:
            # J = per (s z + W z2 + b) + leak as gain (z + W/s z2 + b/s + leak/gain)
            s = {v for _, v in skips}
            if len(s) > 1 or len(set(per)) > 1:
                raise ModelError(f"NIR {type(node).__name__} {key!r}: spikes summed into it "
                                 f"need one scale and one r / v_threshold for all")
            s = s.pop()
            gain = float(per[0]) * s
            per, leak = np.full_like(per, 1.0 / s), leak / gain
        for i, lay in enumerate(layers):
            lay.kernel = (lay.kernel * per).astype(np.float32)
            lay.bias = (lay.bias * per + (leak if i == 0 else 0)).astype(np.float32)
        neuron = Neuron(
            model=str(_text(meta.get(META + "neuron", "lif"))), tau_rc=float(tau),
            tau_ref=float(meta.get(META + "tau_ref", 0.0)), gain=gain,
            amplitude=float(meta.get(META + "amplitude", self.dt)))
        if len(layers) == 1 and not skips:
            target = layers[0].name
            layers[0].neuron = neuron
        else:
            target = key[:-len(".neurons")] if key.endswith(".neurons") else key
            if target in self.layers:
                target = key
            inputs = [l.name for l, _ in skips] + [l.name for l in layers]
            # the input order of the model written here, where there is one
            order = [v for v in _text(meta.get(META + "inputs", "")).split(",") if v]
            if sorted(order) == sorted(inputs):
                inputs = order
            self._add(target, "add", inputs, self.layers[inputs[-1]].shape, neuron=neuron)
        self.synapses[target] = tau_syn
        self.state[key] = (target, 1.0, shape)

    # ---------------------------------------------------------------- readout

    def visit_li(self, key, node, srcs):
        layer, scale, shape = self.state[srcs[0]]
        after = [type(self.nodes[d]).__name__ for s, d in self.graph.edges if s == key]
        if self._is_spikes(layer) and after and set(after) <= {"Affine", "Linear", "Conv2d"}:
            # spikes filtered on their way into weights: the synapse into the readout
            if np.any(np.asarray(node.v_leak) != 0):
                raise ModelError(f"NIR LI {key!r}: a synapse with a leak voltage cannot "
                                 f"run here; give v_leak 0")
            self.synapses[key] = _uniform(key, "tau", node.tau)
            r = np.asarray(node.r, float)
            # after a Flatten the values are flat in (c, h, w) order; the shape kept is 3-D
            r = r.reshape(shape) if r.size == np.prod(shape) else np.broadcast_to(r, shape)
            self.state[key] = (layer, scale * (r if r.ndim and np.any(r != r.flat[0])
                                               else float(r.flat[0])), shape)
            return
        self._readout(key, node, srcs, r=node.r, v_leak=node.v_leak,
                      settings=dict(output_synapse=_uniform(key, "tau", node.tau)))

    def _is_spikes(self, layer):
        """Whether the layer's output is spikes (neurons, maybe flattened or pooled)."""
        lay = self.layers[layer]
        if lay.neuron is not None:
            return True
        return lay.kind in ("flatten", "avgpool") and self._is_spikes(lay.inputs[0])

    def visit_i(self, key, node, srcs):
        self._readout(key, node, srcs, r=node.r, v_leak=0.0,
                      settings=dict(output_synapse=None, readout="integrate"))

    def _readout(self, key, node, srcs, r, v_leak, settings):
        layer, scale, shape = self.state[srcs[0]]
        lay = self.layers[layer]
        after = [dst for src, dst in self.graph.edges if src == key]
        if (lay.kind not in ("conv2d", "dense") or lay.neuron
                is not None or [type(self.nodes[a]).__name__ for a in after] != ["Output"]):
            raise ModelError(
                f"NIR {type(node).__name__} {key!r}: a leaky integrator without spikes "
                f"runs here only as the readout, between the last weights node and Output")
        per = _per_channel(np.asarray(r, float) * np.ones(shape), shape, key)
        lay.kernel = (lay.kernel * per).astype(np.float32)
        lay.bias = (lay.bias * per + _per_channel(np.asarray(v_leak, float) * np.ones(shape),
                                                  shape, key)).astype(np.float32)
        self.settings.update(settings)
        self.state[key] = (layer, 1.0, shape)

    def visit_output(self, key, node, srcs):
        if len(srcs) != 1:
            raise ModelError(f"NIR Output {key!r} has {len(srcs)} inputs; give it one")
        layer, scale, shape = self.state[srcs[0]]
        if np.any(np.asarray(scale) != 1):
            raise ModelError(f"NIR Output {key!r}: a Scale before Output cannot run here; "
                             f"fold it into the weights before it")
        if self.layers[layer].kind not in ("dense", "conv2d", "add"):
            raise ModelError(f"NIR Output {key!r} reads {layer!r}; the output must be a "
                             f"weights or neuron node")
        self.state[key] = (layer, 1.0, shape)

    # ---------------------------------------------------------------- helpers

    def _spikes_of(self, src, key):
        """The state of ``src`` as an input to a weights node: it must not be a
        current still waiting for its neurons (the chip has no such relay)."""
        layer, scale, shape = self.state[src]
        lay = self.layers[layer]
        if lay.kind in ("conv2d", "dense") and lay.neuron is None:
            raise ModelError(
                f"NIR node {key!r} reads {src!r}, a weights node with no neurons after "
                f"it; two weights nodes in a row cannot run on Loihi: multiply them into one")
        return layer, scale, shape

    def _add(self, name, kind, inputs, shape, **kw):
        from ..deploy.network import Layer

        self.layers[name] = Layer(name=name, kind=kind, inputs=list(inputs),
                                  shape=tuple(int(s) for s in shape), **kw)

    def _synapse_settings(self):
        inp = next(l.name for l in self.layers.values() if l.kind == "input")
        first = {k: v for k, v in self.synapses.items()
                 if k in self.layers and inp in _sources(self.layers, k)}
        rest = {k: v for k, v in self.synapses.items() if k not in first}
        out = {}
        if first:
            out["input_synapse"] = _one(first, "the first layer's tau_syn")
        if rest:
            out["synapse"] = _one(rest, "tau_syn")
        return out


def _one(by_layer, what):
    values = set(by_layer.values())
    if len(values) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in by_layer.items())
        raise ModelError(f"the graph's neuron layers differ in {what} ({listing}); one "
                         f"synapse for all runs here (--synapse); make them equal")
    return values.pop()


def _sources(layers, name):
    """The layers a layer reads through weights without neurons between."""
    lay = layers[name]
    out = set()
    for i in lay.inputs:
        src = layers[i]
        out.add(i)
        if src.kind in ("flatten", "avgpool"):
            out |= _sources(layers, i)
    return out


def _per_channel(values, shape, key):
    """An elementwise factor over an array of ``shape`` (C, H, W or N) as one value
    per channel (output axis), or ModelError if it varies within a channel."""
    v = np.asarray(values, float)
    if v.ndim == 0:
        return np.full(shape[0], float(v))
    v = np.broadcast_to(v, shape)
    if len(shape) == 3:
        flat = v.reshape(shape[0], -1)
        if not np.all(flat == flat[:, :1]):
            raise ModelError(f"NIR node {key!r}: parameters vary within a channel; "
                             f"one value per channel runs here")
        return flat[:, 0].copy()
    return v.copy()


def _ours(node):
    """Whether a weights node was written here (its scale is in its metadata)."""
    return META + "scale" in (node.metadata or {})


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _topological(nodes, edges, start):
    """Nodes reachable from ``start`` in an order where each follows its inputs."""
    into = {k: set() for k in nodes}
    out = {k: [] for k in nodes}
    for s, d in edges:
        into[d].add(s)
        out[s].append(d)
    order, ready, done = [], [start], set()
    while ready:
        k = ready.pop(0)
        order.append(k)
        done.add(k)
        for d in out[k]:
            if d not in done and d not in ready and into[d] <= done:
                ready.append(d)
    missing = [k for k in nodes if k not in done]
    if missing:
        raise ModelError(f"NIR nodes {', '.join(map(repr, missing))} are not reached from "
                         f"the Input in a feed-forward order (recurrent edges do not run "
                         f"here)")
    return order
