"""Deploy Keras vision models as spiking networks on Loihi through the Nengo stack.

The library::

    import nengo_vision as nv
    config = nv.Config(model="scnn_mnist", backends=["keras", "nengo-dl", "loihi-emulator"],
                       n_test=100, n_train=6000, epochs=1)
    result = nv.run(config)
    print(result.backends["loihi-emulator"].accuracy)
    result.write("out")          # the same report the command line writes

:class:`Config` holds every setting; :mod:`.pipeline` runs the stages (data →
model → train → calibrate → place → backends → compare); :class:`Result` is
what they produce; :mod:`nengo_vision.plots` draws it on matplotlib ``Axes``;
``nv.sweep(config, grid, folder)`` runs a grid of settings (:mod:`.sweep`);
``nv.Result.load(folder)`` reads a written run back and ``nv.compare_runs(a, b)``
sets two runs side by side (:mod:`.report.compare`).
The command line (``python -m nengo_vision.convert``) is a thin shell over
these. Importing the package loads neither TensorFlow nor pyplot and changes
no global state of either; they are imported by the stages that need them.
"""

from . import pipeline
from .config import Config
from .errors import (
    BackendError, ConfigError, DataError, ModelError, NengoVisionError, PlacementError,
)
from .pipeline import run
from .report.compare import compare_runs
from .result import Result

__version__ = "0.3.0"

__all__ = [
    "BackendError", "Config", "ConfigError", "DataError", "ModelError",
    "NengoVisionError", "PlacementError", "Result", "compare_runs", "pipeline", "plots", "run",
    "sweep",
]


def __getattr__(name):
    # ``nv.plots`` on first use: it imports matplotlib (but not pyplot)
    if name == "plots":
        from .report import plots

        return plots
    # ``nv.sweep(config, grid, folder)``: the module, which is callable
    if name == "sweep":
        import importlib

        return importlib.import_module(".sweep", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
