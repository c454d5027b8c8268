"""A batched, bit-exact engine for nengo-loihi's emulator and nengo's reference simulator.

nengo-loihi 1.1's emulator runs one input at a time and walks every spike in
Python. This engine takes the network nengo-loihi has built and discretised and
steps many inputs at once, with the same integer arithmetic in the same order:

- :mod:`.kernels`: the compiled loops (synaptic input, compartment update, LIF);
- :mod:`.host`: nengo's operators over a batch axis (the host parts, or a whole
  network for ``nengo.Simulator``);
- :mod:`.chip`: the emulated chip's state and synapses over a batch axis;
- :mod:`.emulator`: the three parts wired as nengo-loihi wires them.
"""

from .chip import TALLIES
from .emulator import Batch, BatchedEmulator, run_in_threads
from .host import BatchedHost, EngineError

__all__ = ["Batch", "BatchedEmulator", "BatchedHost", "EngineError", "TALLIES",
           "run_in_threads"]
