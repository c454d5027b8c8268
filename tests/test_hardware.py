"""The real-chip path cannot run here (no NxSDK): check that it says so, precisely."""

import os
import runpy
import subprocess
import sys

from conftest import REPO
from nengo_loihi.hardware.interface import HardwareInterface

CHECK_ENV = REPO / "hardware" / "check_env.py"


def test_check_env_says_nxsdk_is_missing():
    env = {k: v for k, v in os.environ.items() if k not in ("SLURM", "PARTITION", "BOARD")}
    proc = subprocess.run(
        [sys.executable, str(CHECK_ENV)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "Python 3.11: ok",
        "nengo-loihi 1.1.0: ok",
        "NxSDK 0.9.0 to 1.0.0: MISSING: cannot import nxsdk (No module named 'nxsdk'); "
        "install Intel's NxSDK wheel, which INRC members download from Intel, into "
        "this environment",
        "NxSDK job settings (see hardware/README.md): SLURM unset, PARTITION unset, "
        "BOARD unset",
        "1 requirement(s) missing: the loihi backend cannot run here",
    ]


def test_check_env_nxsdk_range_is_nengo_loihis():
    check_env = runpy.run_path(str(CHECK_ENV))
    assert check_env["NXSDK_MIN"] == str(HardwareInterface.min_nxsdk_version)
    assert check_env["NXSDK_MAX"] == str(HardwareInterface.max_nxsdk_version)


def test_run_script_stops_before_the_job_without_nxsdk(tmp_path):
    proc = subprocess.run(
        ["bash", str(REPO / "hardware" / "run_on_loihi.sh"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env={"PATH": f"{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert "NxSDK 0.9.0 to 1.0.0: MISSING: cannot import nxsdk" in proc.stdout
    assert not (tmp_path / "o").exists()
