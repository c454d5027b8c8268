"""The results as plain text for the terminal."""


def table(result):
    """A plain-text table of ``result``, one line per backend."""
    backends = result.backends
    layers = list(dict.fromkeys(k for b in backends.values() for k in b.firing_rates))
    head = (f"{'backend':<16}{'accuracy':>10}{'F1':>7}{'latency':>9}{'digits':>8}"
            f"{'seconds':>10}{'peak MB':>9}")
    head += "".join(f"{layer + ' Hz':>12}" for layer in layers)
    lines = [head, "-" * len(head)]
    for name, b in backends.items():
        lat = b.latency.mean_steps
        line = (f"{name:<16}{b.accuracy * 100:>9.2f}%{b.f1:>7.3f}"
                f"{'-' if lat is None else f'{lat:.1f}':>9}{b.n_test:>8}"
                f"{b.seconds:>10.1f}{b.peak_memory_mb:>9.0f}")
        line += "".join(
            f"{b.firing_rates[layer]:>12.1f}" if layer in b.firing_rates else f"{'-':>12}"
            for layer in layers
        )
        lines.append(line)
    return "\n".join(lines)
