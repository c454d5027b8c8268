"""The real-chip path cannot run here (no NxSDK): check that it says so, precisely."""

import subprocess
import sys

from conftest import REPO


def test_check_env_says_nxsdk_is_missing():
    proc = subprocess.run(
        [sys.executable, str(REPO / "hardware" / "check_env.py")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "Python 3.11: ok"
    assert lines[1] == "nengo-loihi 1.1.0: ok"
    assert lines[2] == (
        "NxSDK 0.9.0 to 1.0.0: MISSING: cannot import nxsdk (No module named 'nxsdk'); "
        "install Intel's NxSDK wheel, which INRC members download from Intel, into "
        "this environment"
    )
    assert lines[3] == "1 requirement(s) missing: the loihi backend cannot run here"


def test_run_script_stops_before_the_job_without_nxsdk(tmp_path):
    proc = subprocess.run(
        ["bash", str(REPO / "hardware" / "run_on_loihi.sh"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env={"PATH": f"{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert "MISSING" in proc.stdout and not (tmp_path / "o").exists()
