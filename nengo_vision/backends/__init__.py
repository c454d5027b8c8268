"""Backends: one small module each, behind the interface of :class:`.base.Backend`.

A backend is registered by name with :func:`.base.register_backend`; the command
line chooses them with ``--backends``.
"""

from .base import Backend, BackendRun, RunContext, backend_names, get_backend

__all__ = ["Backend", "BackendRun", "RunContext", "backend_names", "get_backend"]
