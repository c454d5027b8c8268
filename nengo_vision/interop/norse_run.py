"""A NIR graph run in Norse (``norse.torch.from_nir``): the second simulator.

Why Norse: measured here on 2026-12-06, Norse 1.1.0's ``from_nir`` runs NIR
graphs with nir 1.0.8 (the NIR paper's N-MNIST CNN among them), while snnTorch
1.0.0's ``import_from_nir`` fails at run time on that CNN and its
``export_to_nir`` fails on a plain MLP (type inference errors with nir
1.0.6–1.0.8).

Norse 1.1.0 reads some of NIR differently from NIR's own definitions. Each
difference met by the graphs written here is adapted in the open, here, and
nowhere else (:func:`for_norse`); the others refuse the graph:

- ``Flatten``'s ``start_dim``/``end_dim`` are applied to Norse's batched tensors,
  whose first axis is the batch, though NIR's shapes have no batch axis: the
  dimensions are shifted by one;
- ``LI`` is not among the node types its importer knows (the node is dropped
  without an error, leaving a dangling edge): the readout filter is left out of
  the graph handed to Norse, and the harness filters every backend's output the
  same way;
- ``LIF``'s ``r`` and ``v_reset`` are ignored (taken as 1 and 0), and a
  ``CubaLIF``'s ``v_leak`` is applied to its synaptic current as well: graphs
  with other values are refused, as Norse would run them wrongly;
- ``Scale`` is not imported (residual networks' identity paths): refused.
"""

import copy

import numpy as np

from ..errors import BackendError


def available():
    """None if torch, nir and Norse import here, else why not (one line)."""
    try:
        import nir  # noqa: F401
        import norse.torch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return (f"the norse backend needs torch, nir and norse ({e.name} is missing): "
                f"pip install 'nengo_vision[nir]' and then "
                f"pip install --no-deps norse==1.1.0 nirtorch==2.6")
    return None


def for_norse(graph):
    """A copy of ``graph`` adapted to Norse 1.1.0's reading (see the module's
    docstring); BackendError for a graph Norse would run wrongly."""
    import nir

    g = copy.deepcopy(graph)
    for key, node in list(g.nodes.items()):
        kind = type(node).__name__
        if kind == "Scale":
            raise BackendError(f"Norse 1.1.0 cannot import NIR Scale nodes ({key!r}: a "
                               f"residual's identity path); run this model without norse")
        if kind in ("LIF", "CubaLIF", "IF"):
            r = np.asarray(node.r)
            reset = np.asarray(getattr(node, "v_reset", 0.0))
            leak = np.asarray(getattr(node, "v_leak", 0.0)) if kind == "CubaLIF" else 0.0
            if np.any(r != 1) or np.any(reset != 0) or np.any(leak != 0):
                raise BackendError(f"NIR {kind} {key!r} has r, v_reset or (CubaLIF) "
                                   f"v_leak that Norse 1.1.0 ignores or misapplies")
        if kind == "Flatten":
            g.nodes[key] = nir.Flatten(input_type=node.input_type,
                                       start_dim=_batched(node.start_dim),
                                       end_dim=_batched(node.end_dim))
        if kind == "LI":
            (src,) = [s for s, d in g.edges if d == key]
            g.edges = [(src if s == key else s, d) for s, d in g.edges if d != key]
            del g.nodes[key]
    return g


def _batched(dim):
    dim = int(dim)
    return dim + 1 if dim >= 0 else dim


def norse_module(graph, dt):
    """The torch module Norse builds from ``graph`` (adapted by :func:`for_norse`)."""
    import norse.torch

    # Norse warns per node for parameters it ignores; for_norse has refused
    # every graph where one differs from what Norse assumes
    return norse.torch.from_nir(for_norse(graph), dt=dt, ignore_warnings=True)


def run(graph, images, n_steps, dt, batch_size=100, threads=None, progress=None,
        spikes=None):
    """Run ``images`` (``(n, h, w, c)``) through ``graph`` in Norse: held at every
    step, or, with ``spikes(start, stop)`` giving the samples' ``(B, n_steps, h*w*c)``
    spike counts, as those spikes (each 1 for a step, as the graph's input takes it).

    Returns
    -------
    traces : ndarray
        ``(n, n_steps, n_out)``: the graph's output at every step.
    counts : dict
        Neuron node (without its ``.neurons`` suffix) → ``(n_neurons,)`` spikes
        per neuron summed over images and steps, neurons in channels-last order.
    """
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    module = norse_module(graph, dt)
    fired = {}
    neuron_nodes = [k for k, n in graph.nodes.items()
                    if type(n).__name__ in ("LIF", "CubaLIF", "IF")]
    for key in neuron_nodes:
        sub = getattr(module, key.replace(".", "_"))

        def hook(mod, args, out, key=key):
            z = out[0] if isinstance(out, tuple) else out
            fired[key] = fired.get(key, 0) + z.detach().sum(0)

        sub.register_forward_hook(hook)
    traces = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            nchw = (len(batch),) + (batch.shape[3], batch.shape[1], batch.shape[2])
            x = torch.from_numpy(np.ascontiguousarray(np.transpose(batch, (0, 3, 1, 2)),
                                                      dtype=np.float32))
            counts = None if spikes is None else spikes(start, start + len(batch))
            state, outs = None, []
            for t in range(n_steps):
                if counts is not None:
                    x = torch.from_numpy(np.ascontiguousarray(np.transpose(
                        counts[:, t].reshape(batch.shape), (0, 3, 1, 2)), dtype=np.float32))
                out, state = module(x.reshape(nchw), state)
                outs.append(out.reshape(len(x), -1).numpy())
            traces.append(np.stack(outs, axis=1))
            if progress is not None:
                progress(len(x))
    counts = {}
    for key, total in fired.items():
        total = total.numpy().astype(np.float64)
        if total.ndim == 3:  # (c, h, w) → channels last, as the layers here
            total = np.transpose(total, (1, 2, 0))
        counts[key[:-len(".neurons")] if key.endswith(".neurons") else key] = total.ravel()
    return np.concatenate(traces), counts
