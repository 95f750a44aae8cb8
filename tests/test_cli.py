import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["curation", "training", "inference"])
def test_help_is_real(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "usage:" in out.stdout and len(out.stdout) > 100
