"""Atomic file writing, so that a failed run never leaves a half-written file."""

import contextlib
import os
import tempfile
from pathlib import Path


def _proc_umask():
    """The process's umask as Linux shows it (``Umask:`` in ``/proc/self/status``,
    Linux 4.7 and later), or None where it does not."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_at_import():
    umask = _proc_umask()
    if umask is None:
        # the only other way to read it is to set it and set it back, which is
        # safe only now, while the process has no worker threads
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


#: The umask at import. Setting it later, even for a moment, to read it would
#: race other threads: a file one creates meanwhile gets the wrong permissions.
_IMPORT_UMASK = _umask_at_import()


def current_umask():
    """The umask new files are created with: read from ``/proc`` on Linux (so a
    later ``os.umask`` call is seen), elsewhere the one at import."""
    umask = _proc_umask()
    return _IMPORT_UMASK if umask is None else umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file is in the same folder, so the final ``os.replace`` is atomic.
    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the usual permissions
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock named after ``path`` (``path.lock`` beside it)
    while the ``with`` block runs; another process (or thread) asking for the
    same lock waits until it is released.

    Used around "load it from the cache, or make it and cache it", so that two
    workers of a sweep never make the same thing twice: the second waits, then
    finds it made. The lock file stays (removing it could let a third process
    lock a file that a second one is about to lock).
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def check_writable(folder, label):
    """ConfigError now, before any slow work, if ``folder`` cannot be created or
    written; ``label`` names it in the message (``--out``, ``cache_dir``)."""
    from .errors import ConfigError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{label} {folder} is a file; give a folder")
    parent = folder
    while not parent.exists():
        parent = parent.parent
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise ConfigError(
            f"cannot write to {label} {folder} ({e.strerror or type(e).__name__}); "
            f"choose a writable folder"
        ) from None


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
