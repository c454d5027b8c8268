"""Compiled loops of the batched engine, each equal to nengo's or nengo-loihi's numpy code.

Every kernel runs over a leading batch axis (one digit per row) and does, per
element, the very operations of the code it replaces, in the same order:

- :func:`accumulate_spikes` is ``SynapseState.update_input`` of nengo-loihi's
  emulator, event-driven: each spike adds its synaptic row of integer weights.
  Integer sums do not depend on their order, so batching cannot change them.
- :func:`update_compartments` is ``CompartmentState.update`` (noise-free): the
  integer decays of ``nengo_loihi.builder.discretize.decay_int``, the two's
  complement wrap of ``overflow_signed``, clipping, refractory counting.
- :func:`lif_before_expm1`, :func:`lif_after_expm1` and :func:`lif_spike_times`
  are ``nengo.LIF.step`` split around its two transcendental calls. Those stay
  numpy ufuncs (``np.expm1``, ``np.log1p``) called by the caller: numpy may use
  SIMD versions of them whose last bit differs from libm's (measured: about 30 %
  of values on an AVX-512 machine), and nengo calls numpy's.

numba compiles without ``fastmath``, so no floating-point operation is fused or
reordered.
"""

import numba
import numpy as np

_JIT = dict(nopython=True, nogil=True, cache=True)


@numba.njit(parallel=True, **_JIT)
def accumulate_spikes(spiked, indptr, indices, weights, out, n_chunks):
    """``out[b, indices[k]] += weights[k]`` for every row ``j`` spiking in digit ``b``.

    Parameters
    ----------
    spiked : (B, n_sources) bool
    indptr, indices, weights : CSR arrays of the (n_sources, n_compartments)
        integer synapse matrix.
    out : (B, n_compartments) int32
        Compartment input, incremented in place (wrapping as int32 does).
    n_chunks : int
        Parts of the batch run in parallel (one per thread).

    Sources are the outer loop: a synaptic row is read once per step for all
    the digits of a chunk, not once per digit (the matrix is tens of MB).
    """
    n_batch, n_sources = spiked.shape
    for c in numba.prange(n_chunks):
        b0, b1 = c * n_batch // n_chunks, (c + 1) * n_batch // n_chunks
        for j in range(n_sources):
            k0, k1 = indptr[j], indptr[j + 1]
            for b in range(b0, b1):
                if spiked[b, j]:
                    row = out[b]
                    for k in range(k0, k1):
                        row[indices[k]] += weights[k]


@numba.njit(**_JIT)
def _wrap(x, bits):
    """``overflow_signed``: keep ``bits`` bits plus sign, two's complement."""
    sign = np.int64(1) << bits
    return (x & (sign - 1)) - (x & sign)


@numba.njit(**_JIT)
def _decay(x, r):
    """``decay_int``: ``sign(x) * ((|x| * r) >> 12)``, with ``r = 4096 - offset - decay``."""
    magnitude = (abs(x) * r) >> 12
    return -magnitude if x < 0 else magnitude


@numba.njit(parallel=True, **_JIT)
def update_compartments(
    q, current, voltage, ref_count, spiked,
    r_u, r_v, bias, vth, vmin, vmax, ref, q_bits, u_bits, overflowed,
):
    """One step of every compartment of every digit, in place.

    ``q`` is the summed synaptic input of this step. ``r_u`` and ``r_v`` are
    ``4096 - 1 - decay_u`` and ``4096 - decay_v`` (int64). ``overflowed[b, k]``
    is set where digit ``b`` overflowed in q0 (k=0), the current (1) or u2 (2),
    which nengo-loihi reports as a warning.
    """
    n_batch, n = q.shape
    q_lim = np.int64(1) << q_bits
    u_lim = np.int64(1) << u_bits
    for b in numba.prange(n_batch):
        over_q = over_u = over_u2 = False
        for i in range(n):
            q0 = np.int64(q[b, i])
            over_q |= (q0 < -q_lim) | (q0 >= q_lim)
            q0 = _wrap(q0, q_bits)
            u = _decay(np.int64(current[b, i]), r_u[i]) + q0
            over_u |= (u < -u_lim) | (u >= u_lim)
            u = _wrap(u, u_bits)
            current[b, i] = u
            u2 = u + bias[i]
            over_u2 |= (u2 < -u_lim) | (u2 >= u_lim)
            u2 = _wrap(u2, u_bits)
            v = _decay(np.int64(voltage[b, i]), r_v[i]) + u2
            v = min(max(v, vmin[i]), vmax[i])
            count = ref_count[b, i]
            if count > 0:
                v = 0
            fire = v > vth[i]
            spiked[b, i] = fire
            if fire:
                v = 0
                count = ref[i]
            voltage[b, i] = v
            ref_count[b, i] = max(count - 1, 0)
        overflowed[b, 0] |= over_q
        overflowed[b, 1] |= over_u
        overflowed[b, 2] |= over_u2


@numba.njit(parallel=True, **_JIT)
def lif_before_expm1(dt, tau_rc, refractory_time, arg):
    """``refractory_time -= dt``; ``arg = -clip(dt - refractory_time, 0, dt) / tau_rc``."""
    n_batch, n = arg.shape
    for b in numba.prange(n_batch):
        for i in range(n):
            r = refractory_time[b, i] - dt
            refractory_time[b, i] = r
            delta_t = dt - r
            # np.clip(x, 0, dt) is min(max(x, 0), dt)
            delta_t = min(max(delta_t, 0.0), dt)
            arg[b, i] = -delta_t / tau_rc


@numba.njit(parallel=True, **_JIT)
def lif_after_expm1(J, voltage, output, expm1, spike_value, spiked, log_arg):
    """Voltage update and spikes; writes ``log1p``'s argument for the spiking neurons.

    Returns ``starts``: digit ``b``'s spikes are ``log_arg[starts[b]:starts[b + 1]]``,
    each ``-(v - 1) / (J - 1)``, in row-major order (``spiked`` marks them).
    """
    n_batch, n = J.shape
    counts = np.zeros(n_batch, dtype=np.int64)
    for b in numba.prange(n_batch):
        c = 0
        for i in range(n):
            v = voltage[b, i]
            v = v - (J[b, i] - v) * expm1[b, i]
            voltage[b, i] = v
            fire = v > 1
            spiked[b, i] = fire
            output[b, i] = spike_value if fire else 0.0
            c += fire
        counts[b] = c
    starts = np.zeros(n_batch + 1, dtype=np.int64)
    for b in range(n_batch):
        starts[b + 1] = starts[b] + counts[b]
    for b in numba.prange(n_batch):
        k = starts[b]
        for i in range(n):
            if spiked[b, i]:
                log_arg[k] = -(voltage[b, i] - 1) / (J[b, i] - 1)
                k += 1
    return starts


@numba.njit(parallel=True, **_JIT)
def lif_spike_times(dt, tau_rc, tau_ref, min_voltage, voltage, refractory_time,
                    spiked, log1p, starts):
    """Floor the voltages, reset the spiking neurons and set their refractory times."""
    n_batch, n = voltage.shape
    for b in numba.prange(n_batch):
        k = starts[b]
        for i in range(n):
            if voltage[b, i] < min_voltage:
                voltage[b, i] = min_voltage
            if spiked[b, i]:
                t_spike = dt + tau_rc * log1p[k]
                k += 1
                voltage[b, i] = 0.0
                refractory_time[b, i] = tau_ref + t_spike
