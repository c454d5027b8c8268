"""The errors nengo_vision raises for what a user can change.

Every message is one line that says what to change. The library raises them;
only the command line turns them into that line on stderr and exit status 2.

=====================  ======================================================
``ConfigError``        a setting: a bad value, or two that do not fit together
``DataError``          a data set: missing, corrupt or out-of-range files
``ModelError``         a model: unknown name, a file Keras cannot load, layers
                       that cannot be converted, a stale or corrupt cache
``PlacementError``     the network does not fit one Loihi chip
``BackendError``       a backend cannot run here (e.g. no NxSDK for the chip)
=====================  ======================================================
"""


class NengoVisionError(Exception):
    """Base of the errors a user can fix by changing what they asked for."""

    #: what the command line exits with
    exit_status = 2


class ConfigError(NengoVisionError, ValueError):
    """A setting has a bad value, or settings contradict each other."""


class DataError(NengoVisionError):
    """A data set cannot be read or holds values it must not."""


class ModelError(NengoVisionError):
    """A model cannot be built, loaded, converted or restored from the cache."""


class PlacementError(NengoVisionError):
    """The network cannot be placed on the chip."""


class BackendError(NengoVisionError):
    """A backend cannot run on this machine, or cannot run this network."""
