"""Import nengo-dl without TensorFlow's native start-up noise.

nengo-dl 3.6 imports TensorFlow's legacy ``tensorflow.python.keras``, which probes
for TensorRT and logs "TF-TRT Warning: Could not find TensorRT" from C++ straight
to file descriptor 2, ignoring ``TF_CPP_MIN_LOG_LEVEL``. On a CPU machine that line
means nothing, and it would break the promise that an error is one line on stderr.
"""

import contextlib
import importlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Send writes to file descriptor 2 (C/C++ code) to /dev/null for a while.

    Python-level exceptions are unaffected: they are raised, not printed.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_nengo_dl():
    """Return the ``nengo_dl`` module, imported with native stderr silenced."""
    if "nengo_dl" not in sys.modules:
        with native_stderr_silenced():
            importlib.import_module("nengo_dl")
    return sys.modules["nengo_dl"]
