"""A registry of named things (models, data sets, backends), filled by the
modules of a package as they are imported."""

import importlib
import pkgutil


class Registry:
    """Name → item, loaded from the modules of ``package`` on first use.

    Parameters
    ----------
    package : str
        The package whose modules register their items when imported.
    kind : str
        What an item is, for messages ("model").
    error : type
        The exception for an unknown name.
    skip : tuple of str
        Modules of the package that register nothing (not imported).
    order : callable, optional
        Sort key of an item for :meth:`names` (default: by name).
    """

    def __init__(self, package, kind, error, skip=(), order=None):
        self.package, self.kind, self.error = package, kind, error
        self.skip, self.order = skip, order
        self._items = {}
        self._loaded = False

    def add(self, name, item):
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def _load(self):
        # importing each module runs its registration (the modules import their
        # heavy dependencies only when used, so listing stays fast)
        if self._loaded:
            return
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if info.name not in self.skip:
                importlib.import_module(f"{self.package}.{info.name}")
        self._loaded = True  # only once every module imported

    def __contains__(self, name):
        self._load()
        return name in self._items

    def names(self):
        """Every registered name, sorted (by ``order`` if given)."""
        self._load()
        if self.order is None:
            return sorted(self._items)
        return sorted(self._items, key=lambda n: self.order(self._items[n]))

    def get(self, name):
        """The item called ``name``; ``error`` listing the known names if none is."""
        self._load()
        if name not in self._items:
            raise self.error(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            )
        return self._items[name]
