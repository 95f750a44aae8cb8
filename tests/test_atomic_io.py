"""Atomic writes: whole or untouched, and as readable as any file the user's umask would make."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli import main as pixelate
from pixelforge.io import atomic_path, atomic_write, default_mode
from pixelforge.model.checkpoint import discriminator_metadata, generator_metadata
from pixelforge.model.networks import DiscriminatorSpec, GeneratorSpec, init_weights
from pixelforge.model.state import save_checkpoint


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set a umask for one test and put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_a_new_file_gets_the_umask_default_not_tempfiles_0600(tmp_path, umask, mask):
    umask(mask)
    out = atomic_write(tmp_path / "a.txt", "hello")
    assert out.read_text() == "hello"
    assert mode(out) == 0o666 & ~mask == default_mode()
    assert default_mode(directory=True) == 0o777 & ~mask


def test_a_replaced_file_keeps_its_own_mode(tmp_path, umask):
    umask(0o022)
    private, script = tmp_path / "secret.json", tmp_path / "run.sh"
    private.write_text("{}")
    private.chmod(0o600)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    atomic_write(private, '{"a": 1}')
    atomic_write(script, "#!/bin/sh\necho hi\n")
    assert mode(private) == 0o600 and mode(script) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_pixelate_outputs_and_checkpoint_folders_are_readable_by_others(tmp_path, umask):
    umask(0o022)
    src = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(src)
    assert pixelate([str(src), "-o", str(tmp_path / "out.png"), "-q"]) == 0
    assert mode(tmp_path / "out.png") == 0o644

    g, d = GeneratorSpec(ngf=4, n_blocks=1), DiscriminatorSpec(ndf=4, n_layers=1)
    torch.manual_seed(0)
    nets = {"G_A": init_weights(g.build()), "D_A": init_weights(d.build())}
    meta = {"G_A": generator_metadata(g, "AtoB", 32), "D_A": discriminator_metadata(d, 32)}
    latest = save_checkpoint(tmp_path / "checkpoints", nets, meta, {"iteration": 1}, also_as="epoch_0001")
    for folder in (latest, tmp_path / "checkpoints" / "epoch_0001"):
        assert mode(folder) == 0o755
        assert {f.name: oct(mode(f)) for f in folder.iterdir()} == {f.name: oct(0o644) for f in folder.iterdir()}
