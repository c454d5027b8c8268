"""Deploy Keras vision models as spiking networks on Loihi through the Nengo stack.

The package reads as the pipeline it implements:

``data`` → ``models`` → ``training`` → ``conversion`` → ``backends`` → ``harness``
→ ``report``, with ``convert`` as the command-line entry point.
"""

__version__ = "0.1.0"
