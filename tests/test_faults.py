"""Faults lose nothing: files written atomically get the usual permissions
without touching the umask, a Dask worker killed mid-run is replaced and its
shard run again, and an interrupted run continues from its kept shards."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _python(code):
    """Run ``code`` in a fresh interpreter on this checkout; its stdout."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=oct)
def test_atomic_file_gets_the_umask_permissions(tmp_path, umask):
    """A file written atomically has the permissions ``open`` would give it under
    the process's umask (mkstemp's are 0600), the umask set before or after import."""
    mode = _python(f"""
        import os
        os.umask({umask:#o})
        from nengo_vision._io import write_text
        write_text({str(tmp_path / 'before')!r}, "x")
        os.umask({umask:#o} ^ 0o005)  # a later change is seen too
        write_text({str(tmp_path / 'after')!r}, "x")
        print(oct(os.stat({str(tmp_path / 'before')!r}).st_mode & 0o777),
              oct(os.stat({str(tmp_path / 'after')!r}).st_mode & 0o777))
    """)
    assert mode.split() == [oct(0o666 & ~umask), oct(0o666 & ~(umask ^ 0o005))]


def test_atomic_path_never_sets_the_umask(tmp_path):
    """Setting the umask to read it would race other threads creating files:
    once imported, atomic writes must not call ``os.umask`` at all."""
    calls = _python(f"""
        import os
        from nengo_vision._io import write_text
        calls = []
        real = os.umask
        os.umask = lambda mask: calls.append(mask) or real(mask)
        for i in range(5):
            write_text(os.path.join({str(tmp_path)!r}, f"f{{i}}"), "x")
        print(len(calls))
    """)
    assert calls == "0"
