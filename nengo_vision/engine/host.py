"""nengo's reference simulator, batched: one built ``nengo.Simulator``, many inputs at once.

:class:`BatchedHost` takes a built ``nengo.Simulator`` (its signals, its operators
in its own step order) and runs the same operators on arrays with a leading batch
axis, one row per input. Each operator type has one builder, registered with
:func:`builds`, that returns the batched step; every builder does what the
operator's own ``make_step`` does, row by row:

- elementwise operators (``Reset``, ``Copy``, ``ElementwiseInc``, neurons,
  ``LinearFilter`` synapses) compute exactly nengo's values; ``nengo.LIF`` runs
  through compiled kernels that are bit-equal to ``LIF.step`` (tested);
- ``ConvInc`` calls nengo's own ``conv2d`` and ``DotInc`` numpy's ``dot`` for
  each row, so their float sums run in nengo's order too and give its values
  to the last bit (one matrix product over the batch could order them
  differently);
- ``SparseDotInc`` multiplies the whole batch at once (scipy sums each row's
  terms in the same order either way).

Only signals that some operator writes get a batch axis; constants stay shared.
What cannot be batched exactly (stochastic neurons or processes, learning
rules) is refused with one line naming it.
"""

import inspect

import nengo
import numpy as np
from nengo._vendor.npconv2d import conv2d
from nengo.builder import operator as ops
from nengo.builder.neurons import SimNeurons
from nengo.builder.processes import SimProcess
from nengo.builder.transforms import ConvInc, ConvTransposeInc

from ..errors import BackendError
from . import kernels

_BUILDERS = {}


def builds(op_type):
    """Register the decorated function as the batched builder of ``op_type``."""

    def register(fn):
        _BUILDERS[op_type] = fn
        return fn

    return register


class EngineError(BackendError):
    """Part of a network that the batched engine cannot reproduce exactly."""


class BatchedSignals:
    """Signal → array, with a batch axis on the signals that operators write.

    Read-only signals are nengo's own arrays; every other signal is a copy.
    """

    def __init__(self, sim, batch_size, written):
        self.batch_size = batch_size
        self._arrays = {}
        self._initial = {}
        self.written = written
        for signal in sim.signals:
            self._init(signal, sim)

    def _init(self, signal, sim):
        if signal in self._arrays:
            return
        base = signal.base if signal.is_view else signal
        if base.readonly:
            # constants are shared with nengo's own simulator
            self._arrays[signal] = sim.signals[signal]
            return
        if base not in self._arrays:
            # everything else is this engine's own (the clock too), so that the
            # simulator it was built from can still run on its own
            initial = np.asarray(sim.signals[base]).copy()
            self._initial[base] = initial
            shape = (self.batch_size,) + initial.shape if base in self.written else initial.shape
            array = np.empty(shape, dtype=initial.dtype)
            array[...] = initial
            self._arrays[base] = array
        if signal.is_view:
            base_array = self._arrays[base]
            view = sim.signals[signal]
            lead = (self.batch_size,) if base in self.written else ()
            self._arrays[signal] = np.ndarray(
                shape=lead + view.shape,
                dtype=view.dtype,
                buffer=base_array.data,
                offset=signal.offset,
                strides=base_array.strides[: len(lead)] + view.strides,
            )

    def __getitem__(self, signal):
        return self._arrays[signal]

    def batched(self, signal):
        base = signal.base if signal.is_view else signal
        return base in self.written

    def reset(self):
        """Every signal of this engine's own back to its initial value (in place)."""
        for base, initial in self._initial.items():
            self._arrays[base][...] = initial


def _rows(signals, signal, index):
    """Index ``signal``'s own first axis, behind the batch axis if it has one."""
    if index is Ellipsis:
        return Ellipsis
    return (slice(None), index) if signals.batched(signal) else index


class BatchedHost:
    """Run a built ``nengo.Simulator``'s operators on a batch of inputs.

    Parameters
    ----------
    sim : nengo.Simulator
        A built simulator; its step order, signals and initial values are used
        (it is not stepped).
    batch_size : int
    hooks : dict, optional
        Operator → function ``(op, signals, host) -> step`` that replaces that
        operator's builder (used for the nodes that talk to the chip, and for
        the input node).

    Attributes
    ----------
    signals : BatchedSignals
    time : float
        Current simulation time (the shared clock).
    """

    def __init__(self, sim, batch_size, hooks=None):
        self.sim = sim
        self.dt = sim.dt
        self.batch_size = batch_size
        hooks = hooks or {}
        order = sim.step_order
        written = set()
        for op in order:
            if isinstance(op, ops.TimeUpdate):
                continue
            for signal in op.sets + op.incs + op.updates:
                written.add(signal.base if signal.is_view else signal)
        self.signals = BatchedSignals(sim, batch_size, written)
        self._time_signal = sim.model.time
        # what a held input leaves unchanged after the first step: skipped then
        self.held_ops = held_operators(order, sources=[
            op for op, fn in (hooks or {}).items() if getattr(fn, "held_input", False)])
        writers = {}
        for op in order:
            for signal in op.sets + op.incs + op.updates:
                writers.setdefault(_base(signal), []).append(op)
        #: signals whose every writer is held: they stay as the first step left them
        self.held_signals = {base for base, ops_ in writers.items()
                             if all(op in self.held_ops for op in ops_)}
        self._resets = []
        self._steps = []
        for op in order:
            if op in hooks:
                step = hooks[op](op, self.signals, self)
            else:
                builder = _builder_for(op)
                step = builder(op, self.signals, self)
            if step is not None:
                self._steps.append((op, step))
        # what a held input leaves unchanged after the first step: skipped then
        self._changing = [step for op, step in self._steps if op not in self.held_ops]
        self._first = True
        self.holding = False
        self.probes = list(sim.model.probes)

    @property
    def time(self):
        return float(self.signals[self._time_signal])

    def on_reset(self, fn):
        """Call ``fn()`` whenever the host goes back to its initial state."""
        self._resets.append(fn)

    def reset(self):
        """Back to the initial state: signals, clock, and every stateful step."""
        self.signals.reset()
        for fn in self._resets:
            fn()
        self._first = True

    def step(self, held=False):
        """One step of every operator, in nengo's order.

        ``held``: the input is the same as at the previous step (an image held
        for the whole presentation). The operators that compute from it and
        from constants alone (:func:`held_operators`) would compute the very
        values they hold, so after the first step from rest they are skipped.
        """
        old = np.seterr(invalid="raise", divide="ignore")
        self.holding = held
        try:
            if held and not self._first:
                for step in self._changing:
                    step()
            else:
                for _, step in self._steps:
                    step()
            self._first = False
        finally:
            np.seterr(**old)

    def probe_value(self, probe):
        """The batched value of ``probe``'s signal now, ``(B, ...)``."""
        signal = self.sim.model.sig[probe]["in"]
        value = self.signals[signal]
        if not self.signals.batched(signal):
            value = np.broadcast_to(value, (self.batch_size,) + value.shape)
        return value


def _base(signal):
    return signal.base if signal.is_view else signal


#: operators whose outputs are a function of the signals they read and nothing
#: else (no state, no clock, no random numbers)
PURE = (ops.Reset, ops.Copy, ops.ElementwiseInc, ops.DotInc, ops.BsrDotInc,
        ops.SparseDotInc, ConvInc, ConvTransposeInc)


def held_operators(order, sources=()):
    """The operators of ``order`` whose values cannot change from one step to the
    next while the ``sources`` (the input node's operator) give the same value.

    An operator is held when it is :data:`PURE` (or a source), everything it
    reads is held (read-only, or written only by held operators), and every
    signal it writes is written only by held operators (a signal that a
    changing operator also writes is reset and summed anew every step, so
    none of its writers may be skipped).
    """
    writers = {}
    for op in order:
        for signal in op.sets + op.incs + op.updates:
            writers.setdefault(_base(signal), []).append(op)
    sources = set(sources)
    held = {op for op in order if isinstance(op, PURE) or op in sources}

    def held_signal(signal):
        b = _base(signal)
        return b.readonly or all(w in held for w in writers.get(b, ()))

    changed = True
    while changed:
        changed = False
        for op in list(held):
            reads = () if op in sources else op.reads
            if not all(held_signal(s) for s in list(reads) + op.sets + op.incs + op.updates):
                held.discard(op)
                changed = True
    return held


def _builder_for(op):
    # the most specific registered class; ``Operator`` itself refuses
    return next(_BUILDERS[cls] for cls in type(op).__mro__ if cls in _BUILDERS)


@builds(ops.TimeUpdate)
def build_time_update(op, signals, host):
    step_signal, time_signal = signals[op.step], signals[op.time]
    dt = host.dt

    def step_time():
        step_signal[...] += 1
        time_signal[...] = step_signal * dt

    return step_time


@builds(ops.Reset)
def build_reset(op, signals, host):
    target, value = signals[op.dst], op.value

    def step_reset():
        target[...] = value

    return step_reset


@builds(ops.Copy)
def build_copy(op, signals, host):
    src, dst = signals[op.src], signals[op.dst]
    src_slice = op.src_slice if op.src_slice is not None else Ellipsis
    dst_slice = op.dst_slice if op.dst_slice is not None else Ellipsis
    repeats = False
    if dst_slice is not Ellipsis and not isinstance(dst_slice, slice):
        dst_slice = np.array(dst_slice)
        if dst_slice.dtype.kind != "b":
            dst_slice[dst_slice < 0] += op.dst.shape[0]
            repeats = len(np.unique(dst_slice)) < len(dst_slice)
    if repeats and not op.inc:
        raise EngineError(f"Copy {op} sets repeated indices; nengo refuses it too")
    s, d = _rows(signals, op.src, src_slice), _rows(signals, op.dst, dst_slice)
    if op.inc and repeats:

        def step_copy():
            np.add.at(dst, d, np.broadcast_to(src[s], dst[d].shape))

    elif op.inc:

        def step_copy():
            dst[d] += src[s]

    else:

        def step_copy():
            dst[d] = src[s]

    return step_copy


@builds(ops.ElementwiseInc)
def build_elementwise_inc(op, signals, host):
    A, X, Y = signals[op.A], signals[op.X], signals[op.Y]

    def step_elementwiseinc():
        Y[...] += A * X

    return step_elementwiseinc


def _matmul(A, X, x_batched):
    """``A.dot(x)`` for every row ``x`` of ``X``."""
    if not x_batched:
        return A.dot(X)
    if X.ndim == 2 and A.shape[1] == 1:
        # a one-term sum is one product: elementwise, without BLAS's outer product
        return X[:, :1] * A[:, 0]
    # row by row, the very call nengo makes: a matrix product over the batch
    # may order the sums differently (last-bit differences)
    return np.stack([A.dot(x) for x in X])


@builds(ops.DotInc)
def build_dot_inc(op, signals, host):
    if signals.batched(op.A):
        raise EngineError(
            f"the batched engine cannot run {op}: its matrix changes during the run "
            f"(a learning rule); use nengo-loihi-emulator"
        )
    A, X, Y = signals[op.A], signals[op.X], signals[op.Y]
    x_batched = signals.batched(op.X)
    # a shared input gives one product, broadcast over the batch
    shape = Y.shape if x_batched else op.Y.shape
    product = _Memo(lambda x: _matmul(A, x, x_batched).reshape(shape))

    def step_dotinc():
        Y[...] += product(X)

    return step_dotinc


@builds(ops.BsrDotInc)
def build_bsr_dot_inc(op, signals, host):
    """nengo's optimiser merges matrix products into block-sparse ones (BsrDotInc)."""
    if signals.batched(op.A):
        raise EngineError(f"the batched engine cannot run {op}: its matrix changes")
    A, X, Y = signals[op.A], signals[op.X], signals[op.Y]
    matrix = op.bsr_matrix((A, op.indices, op.indptr))
    x_batched = signals.batched(op.X)
    shape = Y.shape if x_batched else op.Y.shape

    def product(x):
        # row by row, as nengo's own step computes each
        out = np.stack([matrix.dot(row) for row in x]) if x_batched else matrix.dot(x)
        return out.reshape(shape)

    memo = _Memo(product)

    def step_bsrdotinc():
        Y[...] += memo(X)

    return step_bsrdotinc


@builds(ops.SparseDotInc)
def build_sparse_dot_inc(op, signals, host):
    if signals.batched(op.A):
        raise EngineError(f"the batched engine cannot run {op}: its matrix changes")
    A, X, Y = signals[op.A], signals[op.X], signals[op.Y]
    x_batched = signals.batched(op.X)

    def step_sparsedotinc():
        Y[...] += (A @ X.T).T if x_batched else A.dot(X)

    return step_sparsedotinc


@builds(ConvInc)
@builds(ConvTransposeInc)
def build_conv_inc(op, signals, host):
    conv = op.conv
    if conv.dimensions > 2:
        raise EngineError(f"the batched engine cannot run {op}: convolution > 2D")
    W, X_signal, Y_signal = signals[op.W], signals[op.X], signals[op.Y]
    x_batched = signals.batched(op.X)
    batch = host.batch_size
    stride, pad = conv.strides, conv.padding.upper()
    out_spatial = conv.output_shape.spatial_shape if op.is_transpose else None
    if conv.dimensions == 1:
        W = W[None]
        stride = (1,) + stride
        out_spatial = None if out_spatial is None else (1,) + out_spatial

    def views():
        # taken anew each step: reshaping a strided signal may copy it
        X = X_signal if x_batched else np.broadcast_to(X_signal, (batch,) + X_signal.shape)
        X = X.reshape((batch,) + conv.input_shape.shape)
        Y = Y_signal.reshape((batch,) + conv.output_shape.shape)
        if not conv.channels_last:
            X, Y = np.moveaxis(X, 1, -1), np.moveaxis(Y, 1, -1)
        if conv.dimensions == 1:
            X, Y = X[:, None], Y[:, None]
        return X, Y

    if op.is_transpose:

        def one(x):
            return conv2d.conv2d_gradx(W, x, xsize=out_spatial, pad=pad, stride=stride)

    else:

        def one(x):
            return conv2d.conv2d(x, W, pad=pad, stride=stride)

    if not np.may_share_memory(views()[1], Y_signal):
        raise EngineError(f"the batched engine cannot write {op}'s output in place")

    def convolve(X):
        # row by row, in the shape nengo uses: the same BLAS call, so the same sums
        return np.concatenate([one(X[b : b + 1]) for b in range(batch)])

    product = _Memo(convolve)

    def step_conv():
        X, Y = views()
        Y += product(X)

    return step_conv


class _Memo:
    """``fn(x)``, computed again only when ``x`` differs from the last call's.

    An operator's product is a deterministic function of its input (the weights
    are constant), so while the input is unchanged (a static image held for
    every step) the last product is the very value nengo computes again.
    """

    def __init__(self, fn):
        self.fn, self.x, self.y = fn, None, None

    def __call__(self, x):
        if self.x is None or not np.array_equal(self.x, x):
            self.x, self.y = np.array(x), self.fn(x)
        return self.y


def _refuse_random(op, what):
    raise EngineError(
        f"the batched engine cannot reproduce {what} ({op}): it draws random numbers; "
        f"use nengo-loihi-emulator"
    )


@builds(SimNeurons)
def build_neurons(op, signals, host):
    neuron = op.neurons
    state = {name: signals[sig] for name, sig in op.state.items()}
    if op.state_extra or "rng" in inspect.signature(neuron.step).parameters:
        _refuse_random(op, f"neuron type {type(neuron).__name__}")
    J, output = signals[op.J], signals[op.output]
    dt = host.dt
    if type(neuron) is nengo.LIF and J.ndim == 2 and J.flags.c_contiguous:
        probed = [host.sim.model.sig[p]["in"] for p in host.sim.model.probes]

        def read(signal):
            return any(s is signal or (s.is_view and s.base is signal.base) for s in probed)

        # the refractory times may be updated ahead (at the end of the step
        # before) unless something reads them; neurons that a held input
        # keeps below threshold may be left alone unless their voltage is read
        ahead = not read(op.state["refractory_time"])
        elide = ahead and not read(op.state["voltage"]) and _base(op.J) in host.held_signals
        return _lif_step(neuron, dt, J, output, state["voltage"], state["refractory_time"],
                         host if ahead else None, elide)

    def step_neurons():
        neuron.step(dt, J, output, **state)

    return step_neurons


def _lif_step(neuron, dt, J, output, voltage, refractory_time, host=None, elide=False):
    """``nengo.LIF.step`` through the compiled kernels (bit-equal, tested).

    With ``host``, each step ends with the next step's refractory update (one
    pass over the neurons fewer); ``host.on_reset`` starts it again from rest.
    With ``elide``, while the host holds its input (``host.holding``), the
    neurons whose input current keeps them below threshold are left out after
    the first step (:func:`.kernels.silent_neurons`): their output stays 0.
    """
    spiked = np.empty(J.shape, dtype=bool)
    segments = np.empty(J.size)
    tau_rc, tau_ref = neuron.tau_rc, neuron.tau_ref
    min_voltage = neuron.min_voltage
    spike_value = neuron.amplitude / dt
    # numpy's expm1 of nengo's two common arguments, -dt / tau_rc (a neuron out
    # of its refractory period) and -0 / tau_rc (in it), taken as nengo takes
    # them: a vectorised call over an array
    full, zero = (np.expm1(-np.full(64, delta_t) / tau_rc) for delta_t in (dt, 0.0))
    assert np.all(full == full[0]) and np.all(zero == zero[0])
    expm1_full, expm1_zero = full[0], zero[0]

    ahead = []  # the next step's refractory update, done at the end of this one
    none = np.zeros((0, 0), dtype=bool)
    silent = np.zeros(J.shape, dtype=bool) if elide else none
    skipping = []  # [True] once `silent` holds this presentation's silent neurons

    def step_lif():
        if ahead:
            args, part_starts = ahead.pop()
        else:
            args, part_starts = kernels.lif_refractory(dt, tau_rc, refractory_time, segments)
        skip = silent if skipping else none
        logs, starts = kernels.lif_voltage(
            dt, J, voltage, refractory_time, expm1_full, expm1_zero, np.expm1(args),
            part_starts, output, spike_value, spiked, segments, skip,
        )
        if host is None:
            kernels.lif_spike_times(
                dt, tau_rc, tau_ref, min_voltage, voltage, refractory_time, spiked,
                np.log1p(logs), starts,
            )
        else:
            ahead.append(kernels.lif_spike_times_then_refractory(
                dt, tau_rc, tau_ref, min_voltage, voltage, refractory_time, spiked,
                np.log1p(logs), starts, segments, skip,
            ))
        if elide and not skipping and host.holding:
            kernels.silent_neurons(J, spiked, silent)
            skipping.append(True)

    if host is not None:
        host.on_reset(ahead.clear)
        host.on_reset(skipping.clear)
    return step_lif


@builds(SimProcess)
def build_process(op, signals, host):
    process = op.process
    if not isinstance(process, nengo.synapses.LinearFilter):
        raise EngineError(
            f"the batched engine cannot run process {type(process).__name__} ({op}); "
            f"use nengo-loihi-emulator"
        )
    return _linear_filter(op, signals, host)


def _linear_filter(op, signals, host):
    """A ``LinearFilter`` with the batch folded into its signal: all its steps
    (``OneX``, ``NoD``, ``General``...) then act on every row as on one input."""
    process = op.process
    batch = host.batch_size
    inp = signals[op.input] if op.input is not None else None
    out = signals[op.output]
    flat = (batch * int(np.prod(op.output.shape)),)
    initial = {name: np.asarray(host.sim.signals[sig]) for name, sig in op.state.items()}
    state = {
        name: np.repeat(value[:, None], batch, axis=1).reshape((value.shape[0],) + flat)
        if value.ndim >= 1 and value.shape[0] > 0 else value.copy()
        for name, value in initial.items()
    }
    start = {name: value.copy() for name, value in state.items()}
    step_f = process.make_step(flat, flat, host.dt, None, state)

    def reset():
        for name, value in state.items():
            value[...] = start[name]

    host.on_reset(reset)
    mode = op.mode
    shape = out.shape

    def step_filter():
        x = np.reshape(inp, flat).copy() if inp is not None else None
        y = step_f(host.time, x).reshape(shape)
        if mode == "inc":
            out[...] += y
        else:
            out[...] = y

    return step_filter


@builds(ops.SimPyFunc)
def build_pyfunc(op, signals, host):
    fn = op.fn
    output = signals[op.output] if op.output is not None else None
    x = signals[op.x] if op.x is not None else None
    per_row = op.x is not None and signals.batched(op.x)

    def step_pyfunc():
        t = host.time if op.t is not None else None
        args = () if t is None else (t,)
        if per_row:
            y = np.stack([fn(*args, np.copy(row)) for row in x])
        else:
            y = fn(*args, *(() if x is None else (np.copy(x),)))
        if output is not None:
            output[...] = y

    return step_pyfunc


@builds(ops.Operator)
def build_no_op(op, signals, host):
    """Probes are read after each step; other operators have no ``make_step``."""
    if type(op).__name__ == "SimProbe":
        return None
    raise EngineError(
        f"the batched engine cannot run nengo operator {type(op).__name__} ({op}); "
        f"use a reference backend (nengo-loihi-emulator, nengo) for this network"
    )
