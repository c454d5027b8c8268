"""Compiled loops of the batched engine, each equal to nengo's or nengo-loihi's numpy code.

Every kernel runs over a leading batch axis (one digit per row) and does, per
element, the very operations of the code it replaces, in the same order:

- :func:`accumulate_spikes` is ``SynapseState.update_input`` of nengo-loihi's
  emulator, event-driven: each spike adds its synaptic row of integer weights.
  Integer sums do not depend on their order, so batching cannot change them.
- :func:`update_compartments` is ``CompartmentState.update`` (noise-free): the
  integer decays of ``nengo_loihi.builder.discretize.decay_int``, the two's
  complement wrap of ``overflow_signed``, clipping, refractory counting.
  In the same pass it counts what the spikes cost (synaptic operations,
  messages), as the chip's own activity counters would.
- :func:`lif_refractory`, :func:`lif_voltage` and :func:`lif_spike_times` are
  ``nengo.LIF.step`` split around its two transcendental calls
  (:func:`lif_spike_times_then_refractory` joins the last pass of one step to
  the first of the next). Those stay
  numpy ufuncs (``np.expm1``, ``np.log1p``) called by the caller: numpy may use
  SIMD versions of them whose last bit differs from libm's (measured: about 30 %
  of values on an AVX-512 machine), and nengo calls numpy's. They are called
  only where needed: ``expm1`` takes one of two values for all but the neurons
  leaving their refractory period, ``log1p`` is needed for spiking neurons only.

numba compiles without ``fastmath``, so no floating-point operation is fused or
reordered.
"""

import numba
import numpy as np

_JIT = dict(nogil=True, cache=True)


@numba.njit(parallel=True, **_JIT)
def accumulate_spikes(spiked, run_ptr, run_target, run_offset, run_length, weights, out,
                      tally_weights, tally):
    """``out[b, targets of j] += weights of j`` for every source ``j`` spiking in digit ``b``.

    Parameters
    ----------
    spiked : (B, n_sources) bool or uint8
        Whether (bool), or how many times (uint8), each source spiked.
    run_ptr : (n_sources + 1,) int64
        Source ``j``'s synapses are the runs ``run_ptr[j]:run_ptr[j + 1]``.
    run_target, run_offset, run_length : (n_runs,) int
        Run ``r`` adds ``weights[run_offset[r] + k]`` to compartment
        ``run_target[r] + k`` for ``k < run_length[r]``: a convolution's synapses
        come in runs of consecutive compartments, so the targets need no index
        each and the inner loop is a plain vector add.
    weights : (nnz,) int16 or int32
    out : (B, n_compartments) int32
        Compartment input, incremented in place (wrapping as int32 does).
    tally_weights : (n_sources, k) float64
        What one spike of each source counts for (``k`` may be 0: no tally).
    tally : (B, k) float64
        ``tally[b] += spiked[b, j] * tally_weights[j]``, counted in the same pass
        (the chip's activity counters; the sums above do not depend on it).
    """
    n_batch, n_sources = spiked.shape
    n_tally = tally_weights.shape[1]
    for b in numba.prange(n_batch):
        row = out[b]
        # counted in an array of its own, written back at the end: a store to
        # `tally` inside the loop would keep the compiler from vectorising the
        # adds to `row` (it cannot tell the two apart)
        counted = np.zeros(n_tally)
        for j in range(n_sources):
            c = numba.int64(spiked[b, j])
            # several spikes of one source in a step (input counts) add the row
            # once each, as nengo-loihi's emulator adds each listed spike
            for _ in range(c):
                for r in range(run_ptr[j], run_ptr[j + 1]):
                    # unsigned: no negative-index wraparound, so the add vectorises
                    # (measured 2x faster)
                    t, o = numba.uint64(run_target[r]), numba.uint64(run_offset[r])
                    for k in range(numba.uint64(run_length[r])):
                        row[t + k] += weights[o + k]
            # after the adds: counted first, the loop above ran 1.5x slower
            if c:
                for m in range(n_tally):
                    counted[m] += c * tally_weights[j, m]
        for m in range(n_tally):
            tally[b, m] += counted[m]


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
    r_u, r_v, bias, vth, vmin, vmax, ref, q_bits, u_bits, overflowed, idle, fired,
):
    """One step of every compartment of every digit, in place.

    ``q`` is the summed synaptic input of this step. ``r_u`` and ``r_v`` are
    ``4096 - 1 - decay_u`` and ``4096 - decay_v`` (int64). ``overflowed[b, k]``
    is set where digit ``b`` overflowed in q0 (k=0), the current (1) or u2 (2),
    which nengo-loihi reports as a warning. ``idle[b]`` is incremented by the
    compartments of digit ``b`` for which the step did nothing: no input
    arrived, no spike, and their current and voltage are zero (Loihi's cheaper inactive
    neuron update, see :mod:`nengo_vision.energy`). ``fired[b, i]`` counts
    compartment ``i``'s spikes for digit ``b``.
    """
    n_batch, n = q.shape
    q_lim = np.int64(1) << q_bits
    u_lim = np.int64(1) << u_bits
    for b in numba.prange(n_batch):
        over_q = over_u = over_u2 = False
        n_idle = 0
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
                fired[b, i] += 1
            voltage[b, i] = v
            ref_count[b, i] = max(count - 1, 0)
            if q0 == 0 and u == 0 and v == 0 and not fire:
                n_idle += 1
        idle[b] += n_idle
        overflowed[b, 0] |= over_q
        overflowed[b, 1] |= over_u
        overflowed[b, 2] |= over_u2


@numba.njit(**_JIT)
def _compact(segments, counts, width):
    """Row ``b``'s first ``counts[b]`` values of ``segments[b * width:]``, all rows
    joined; returns them and each row's start."""
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    for b in range(len(counts)):
        starts[b + 1] = starts[b] + counts[b]
    values = np.empty(starts[-1])
    for b in range(len(counts)):
        values[starts[b] : starts[b + 1]] = segments[b * width : b * width + counts[b]]
    return values, starts


@numba.njit(**_JIT)
def _delta_t(dt, r):
    # nengo: (dt - refractory_time).clip(0, dt), and np.clip is min(max(x, 0), dt)
    return min(max(dt - r, 0.0), dt)


@numba.njit(parallel=True, **_JIT)
def lif_refractory(dt, tau_rc, refractory_time, segments):
    """``refractory_time -= dt``, and the ``expm1`` arguments ``-delta_t / tau_rc``
    that are neither of the two common values.

    ``delta_t`` is ``dt`` for a neuron out of its refractory period and 0 for one
    in it; their ``expm1`` is computed once (see :func:`lif_voltage`). Only the
    neurons part-way out of it (``0 < delta_t < dt``) need their own ``expm1``:
    returns their arguments, row by row, and each row's start.
    """
    n_batch, n = refractory_time.shape
    counts = np.zeros(n_batch, dtype=np.int64)
    for b in numba.prange(n_batch):
        c = 0
        for i in range(n):
            r = refractory_time[b, i] - dt
            refractory_time[b, i] = r
            delta_t = _delta_t(dt, r)
            if 0.0 < delta_t < dt:
                segments[b * n + c] = -delta_t / tau_rc
                c += 1
        counts[b] = c
    return _compact(segments, counts, n)


@numba.njit(parallel=True, **_JIT)
def lif_voltage(dt, J, voltage, refractory_time, expm1_full, expm1_zero, expm1_part,
                part_starts, output, spike_value, spiked, segments, silent):
    """nengo's voltage update ``v -= (J - v) * expm1(-delta_t / tau_rc)``, and spikes.

    ``expm1_full`` and ``expm1_zero`` are numpy's ``expm1`` of the arguments for
    ``delta_t = dt`` and ``delta_t = 0``; ``expm1_part`` the values for the
    neurons :func:`lif_refractory` listed. Returns the ``log1p`` arguments
    ``-(v - 1) / (J - 1)`` of the spiking neurons, row by row, and each row's start.
    ``silent`` (``(B, n)`` bool, or empty) marks neurons left as they are
    (see :func:`silent_neurons`).
    """
    n_batch, n = J.shape
    skip = silent.shape[0] > 0
    counts = np.zeros(n_batch, dtype=np.int64)
    for b in numba.prange(n_batch):
        k = part_starts[b]
        c = 0
        for i in range(n):
            if skip and silent[b, i]:
                continue
            delta_t = _delta_t(dt, refractory_time[b, i])
            if delta_t == dt:
                e = expm1_full
            elif delta_t == 0.0:
                e = expm1_zero
            else:
                e = expm1_part[k]
                k += 1
            v = voltage[b, i]
            j = J[b, i]
            v = v - (j - v) * e
            voltage[b, i] = v
            fire = v > 1
            spiked[b, i] = fire
            output[b, i] = spike_value if fire else 0.0
            if fire:
                segments[b * n + c] = -(v - 1) / (j - 1)
                c += 1
        counts[b] = c
    return _compact(segments, counts, n)


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


@numba.njit(parallel=True, **_JIT)
def lif_spike_times_then_refractory(dt, tau_rc, tau_ref, min_voltage, voltage,
                                    refractory_time, spiked, log1p, starts, segments,
                                    silent):
    """:func:`lif_spike_times` for this step, then :func:`lif_refractory` for the
    next, in one pass over the neurons (nothing reads the refractory times
    between the two). Returns what :func:`lif_refractory` returns. ``silent``:
    as :func:`lif_voltage`'s."""
    n_batch, n = voltage.shape
    skip = silent.shape[0] > 0
    counts = np.zeros(n_batch, dtype=np.int64)
    for b in numba.prange(n_batch):
        k = starts[b]
        c = 0
        for i in range(n):
            if skip and silent[b, i]:
                continue
            if voltage[b, i] < min_voltage:
                voltage[b, i] = min_voltage
            r = refractory_time[b, i]
            if spiked[b, i]:
                t_spike = dt + tau_rc * log1p[k]
                k += 1
                voltage[b, i] = 0.0
                r = tau_ref + t_spike
            r = r - dt
            refractory_time[b, i] = r
            delta_t = _delta_t(dt, r)
            if 0.0 < delta_t < dt:
                segments[b * n + c] = -delta_t / tau_rc
                c += 1
        counts[b] = c
    return _compact(segments, counts, n)


#: a neuron whose input current stays below this never reaches nengo's firing
#: threshold of 1: from rest its voltage approaches the current from below and
#: rounding cannot add 1e-9 to it (a float64 ulp near 1 is 2.2e-16)
SILENT_BELOW = 1.0 - 1e-9


@numba.njit(parallel=True, **_JIT)
def silent_neurons(J, spiked, out):
    """``out[b, i]``: neuron ``i`` of input ``b`` will never spike while its input
    current ``J`` stays as it is (below :data:`SILENT_BELOW`) and it has not
    spiked: its output stays 0, so its update can be left out (its voltage is
    then not kept up to date: only where no probe reads it)."""
    n_batch, n = J.shape
    for b in numba.prange(n_batch):
        for i in range(n):
            out[b, i] = J[b, i] < SILENT_BELOW and not spiked[b, i]
