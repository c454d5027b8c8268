"""The library's progress lines go to the ``nengo_vision`` logger.

Every stage of :mod:`.pipeline` takes a ``log`` callable; its default,
:func:`info`, sends each line to ``logging.getLogger("nengo_vision")`` at INFO
level, so that a program decides what it sees (``logging.basicConfig(level=
logging.INFO)`` shows them; the command line shows them unless ``--quiet``).
Passing ``log=print`` (or any callable) still works.
"""

import logging

logger = logging.getLogger("nengo_vision")


def info(line):
    """Log ``line`` (one progress line of a run) at INFO level."""
    logger.info(line)
