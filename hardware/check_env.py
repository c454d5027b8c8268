"""Check that this machine can run nengo_vision on a real Loihi chip.

Prints one line per requirement, ``ok`` or what is missing, then the job settings
NxSDK takes from the environment, and exits 0 only when every requirement is met.
Run it on the Loihi host (the INRC "superhost") before the main job::

    python hardware/check_env.py

Nothing here talks to a board: a pass means nengo-loihi will hand the network to
NxSDK, not that a chip is free or that the job will be scheduled.
"""

import importlib
import importlib.metadata
import os
import sys

# NengoLoihi 1.1.0 refuses NxSDK older than 0.9.0 and warns about versions newer
# than 1.0.0 (nengo_loihi/hardware/interface.py, HardwareInterface.min_nxsdk_version
# and max_nxsdk_version, checked in check_nxsdk_version); tests/test_hardware.py
# checks these constants against that class.
NXSDK_MIN, NXSDK_MAX = "0.9.0", "1.0.0"

#: Environment variables NxSDK reads to place a job (nengo-loihi reads none of
#: them; its docs/tips.rst and conftest.py at v1.1.0 describe and set them).
NXSDK_JOB_SETTINGS = ("SLURM", "PARTITION", "BOARD")


def check_python():
    """The pinned TensorFlow 2.12 stack is built for Python 3.11."""
    if sys.version_info[:2] == (3, 11):
        return None
    return f"this is Python {sys.version.split()[0]}; the pinned TensorFlow 2.12 stack needs 3.11"


def check_nengo_loihi():
    """nengo-loihi 1.1.0 is installed and imports.

    ``import nengo_loihi`` also loads ``nengo_loihi/hardware/nxsdk_shim.py``, which
    imports a dozen ``nxsdk`` submodules whenever ``import nxsdk`` works: an NxSDK
    whose layout nengo-loihi does not know fails here, not later.
    """
    try:
        version = importlib.metadata.version("nengo-loihi")
    except importlib.metadata.PackageNotFoundError:
        return 'nengo-loihi is not installed; run pip install -e ".[test]" in the repo'
    if version != "1.1.0":
        return f"nengo-loihi {version} installed; install nengo-loihi==1.1.0"
    try:
        importlib.import_module("nengo_loihi")
    except Exception as e:  # whatever breaks the import stops the job the same way
        return (
            f"import nengo_loihi failed ({type(e).__name__}: {e}); it imports NxSDK's "
            f"modules when nxsdk is installed (nengo_loihi/hardware/nxsdk_shim.py), so "
            f"a broken or unsupported NxSDK shows here too"
        )
    return None


def import_nxsdk():
    """``(nxsdk module or None, problem or None)``."""
    try:
        return importlib.import_module("nxsdk"), None
    except ImportError as e:
        return None, (
            f"cannot import nxsdk ({e}); install Intel's NxSDK wheel, which INRC "
            f"members download from Intel, into this environment"
        )


def check_nxsdk_version(nxsdk):
    """``(problem or None, warning or None)`` for the installed NxSDK's version."""
    from nengo_loihi.hardware.nxsdk_shim import parse_nxsdk_version

    version = parse_nxsdk_version(nxsdk)
    if version < parse_nxsdk_version(NXSDK_MIN):
        return (f"NxSDK {version} installed; nengo-loihi 1.1.0 refuses versions "
                f"older than {NXSDK_MIN}"), None
    if version > parse_nxsdk_version(NXSDK_MAX):
        return None, (f"NxSDK {version} is newer than {NXSDK_MAX}, the newest "
                      f"nengo-loihi 1.1.0 was tested with; it warns and carries on")
    return None, None


def check_nengo_loihi_sees_nxsdk():
    """nengo-loihi found the same NxSDK: ``nengo_loihi.Simulator(target="loihi")``
    asserts ``nengo_loihi.hardware.HAS_NXSDK`` (nengo_loihi/simulator.py)."""
    from nengo_loihi.hardware import HAS_NXSDK

    if not HAS_NXSDK:
        return "nengo_loihi.hardware.HAS_NXSDK is False although nxsdk imports"
    return None


def checks():
    """Yield ``(requirement, problem_or_None, warning_or_None)``; stop at a blocker."""
    yield "Python 3.11", check_python(), None
    problem = check_nengo_loihi()
    yield "nengo-loihi 1.1.0", problem, None
    if problem is not None:
        return
    requirement = f"NxSDK {NXSDK_MIN} to {NXSDK_MAX}"
    nxsdk, problem = import_nxsdk()
    if nxsdk is None:
        yield requirement, problem, None
        return
    yield (requirement, *check_nxsdk_version(nxsdk))
    yield "nengo_loihi.hardware with NxSDK", check_nengo_loihi_sees_nxsdk(), None


def job_settings():
    """One line with the NxSDK job settings as this environment sets them."""
    values = ", ".join(
        f"{name}={os.environ[name]}" if name in os.environ else f"{name} unset"
        for name in NXSDK_JOB_SETTINGS
    )
    return f"NxSDK job settings (see hardware/README.md): {values}"


def main():
    failed = 0
    for requirement, problem, warning in checks():
        if problem is not None:
            print(f"{requirement}: MISSING: {problem}")
        elif warning is not None:
            print(f"{requirement}: ok, but {warning}")
        else:
            print(f"{requirement}: ok")
        failed += problem is not None
    print(job_settings())
    if failed:
        print(f"{failed} requirement(s) missing: the loihi backend cannot run here")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
