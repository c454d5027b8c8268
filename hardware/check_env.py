"""Check that this machine can run nengo_vision on a real Loihi chip.

Prints one line per requirement, ``ok`` or what is missing, and exits 0 only when
all are met. Run it on the Loihi host (the INRC "superhost") before the main job::

    python hardware/check_env.py
"""

import importlib
import sys

# NengoLoihi 1.1.0 drives chips through NxSDK versions in this range
# (nengo_loihi.hardware.interface.HardwareInterface.min/max_nxsdk_version).
NXSDK_MIN, NXSDK_MAX = "0.9.0", "1.0.0"


def checks():
    """Yield ``(requirement, problem_or_None)``."""
    yield "Python 3.11", None if sys.version_info[:2] == (3, 11) else (
        f"this is Python {sys.version.split()[0]}; the pinned TensorFlow 2.12 stack needs 3.11"
    )
    try:
        import nengo_loihi

        problem = None if nengo_loihi.__version__ == "1.1.0" else (
            f"nengo-loihi {nengo_loihi.__version__} installed; install nengo-loihi==1.1.0"
        )
    except ImportError:
        problem = 'nengo-loihi is not installed; run pip install -e ".[test]" in the repo'
    yield "nengo-loihi 1.1.0", problem

    try:
        nxsdk = importlib.import_module("nxsdk")
    except ImportError as e:
        yield f"NxSDK {NXSDK_MIN} to {NXSDK_MAX}", (
            f"cannot import nxsdk ({e}); install Intel's NxSDK wheel, which INRC "
            f"members download from Intel, into this environment"
        )
        return
    from nengo_loihi.hardware.nxsdk_shim import parse_nxsdk_version

    version = parse_nxsdk_version(nxsdk)
    ok = parse_nxsdk_version(NXSDK_MIN) <= version <= parse_nxsdk_version(NXSDK_MAX)
    yield f"NxSDK {NXSDK_MIN} to {NXSDK_MAX}", None if ok else (
        f"NxSDK {version} installed; nengo-loihi 1.1.0 needs {NXSDK_MIN} to {NXSDK_MAX}"
    )


def main():
    failed = 0
    for requirement, problem in checks():
        print(f"{requirement}: {'ok' if problem is None else 'MISSING: ' + problem}")
        failed += problem is not None
    if failed:
        print(f"{failed} requirement(s) missing: the loihi backend cannot run here")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
