"""`train average`: the mean of a run's checkpoints, usable by pixelate, init_from and publish."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from pixelforge.model.checkpoint import CheckpointError, generator_metadata, save_network
from pixelforge.model.loading import load_generator
from pixelforge.model.networks import GeneratorSpec, init_weights
from tests.test_training import tiny
from training.average import AVERAGED_KEY, average_checkpoints, average_states, checkpoints_of
from training.cli import main
from training.loop import train


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run that keeps epoch_0001 and epoch_0002 (3 steps each)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("avg")
    result = train(tiny(root), progress=False)
    assert result.status == "finished"
    return Path(result.run)


def _g(folder: Path, name: str = "G_A") -> dict[str, torch.Tensor]:
    return load_file(str(folder / f"{name}.safetensors"))


def test_average_is_the_mean_of_the_epochs_and_loads_everywhere(two_epochs, tmp_path, capsys):
    out = tmp_path / "avg"
    assert main(["average", str(two_epochs), "--output", str(out)]) == 0
    assert "averaged 2 checkpoints" in capsys.readouterr().out
    e1, e2, got = (
        two_epochs / "checkpoints/epoch_0001",
        two_epochs / "checkpoints/epoch_0002",
        out / "checkpoints/latest",
    )
    for name in ("G_A", "G_B"):
        a, b, m = _g(e1, name), _g(e2, name), _g(got, name)
        assert m.keys() == a.keys()
        assert any(not torch.equal(a[k], b[k]) for k in a)  # the epochs differ, so the mean is neither
        for k in a:
            assert torch.equal(m[k], ((a[k].double() + b[k].double()) / 2).to(a[k].dtype)), k
    for name in ("D_A", "D_B"):  # the last checkpoint's discriminators, byte for byte
        assert (got / f"{name}.safetensors").read_bytes() == (e2 / f"{name}.safetensors").read_bytes()
    with safe_open(str(got / "G_A.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert meta[AVERAGED_KEY] == "run/epoch_0001, run/epoch_0002" and meta["direction"] == "AtoB"
    record = json.loads((out / "average.json").read_text())
    assert [a["checkpoint"] for a in record["averaged"]] == ["run/epoch_0001", "run/epoch_0002"]
    assert [a["step"] for a in record["averaged"]] == [3, 6]
    assert (out / "config.json").read_text() == (two_epochs / "config.json").read_text()

    # pixelate loads it; its drawing lies between the epochs' (it is neither of them)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = [load_generator(p)[0](x) for p in (e1, e2, out)]
    assert not torch.equal(y[2], y[0]) and not torch.equal(y[2], y[1])

    # a new stage starts from it; a resume is refused with the way on
    cfg = tiny(two_epochs.parent)
    started = train(
        replace(cfg, output=str(tmp_path / "next"), init_from=str(out), max_steps=1), progress=False
    )
    assert started.status == "max_steps"
    assert main(["--resume", str(out)]) == 2
    assert f"--init-from {out}" in capsys.readouterr().err


def test_a_checkpoint_averaged_with_its_copy_is_itself(two_epochs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(two_epochs / "checkpoints/epoch_0001", copy)
    out = average_checkpoints([two_epochs / "checkpoints/epoch_0001", copy], tmp_path / "avg")
    a, m = _g(two_epochs / "checkpoints/epoch_0001"), _g(out / "checkpoints/latest")
    assert all(torch.equal(a[k], m[k]) for k in a)
    assert not (out / "config.json").exists()  # the last checkpoint is in no run: no run files to keep


def test_last_picks_the_newest_epochs(two_epochs):
    assert [p.name for p in checkpoints_of(two_epochs, last=1)] == ["epoch_0002"]
    assert [p.name for p in checkpoints_of(two_epochs)] == ["epoch_0001", "epoch_0002"]
    assert checkpoints_of(two_epochs / "checkpoints/epoch_0001") == [two_epochs / "checkpoints/epoch_0001"]


def test_refusals_write_nothing(two_epochs, tmp_path, capsys):
    e1 = str(two_epochs / "checkpoints/epoch_0001")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["average", str(two_epochs), "--output", str(busy)]) == 2
    assert "not empty" in capsys.readouterr().err and [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert main(["average", e1, e1, "--output", str(tmp_path / "twice")]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main(["average", e1, "--output", str(tmp_path / "one")]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert main(["average", str(two_epochs), "--last", "1", "--output", str(tmp_path / "one")]) == 2
    assert not (tmp_path / "twice").exists() and not (tmp_path / "one").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind

    # another architecture: named, with both specs
    other = tmp_path / "other"
    other.mkdir()
    spec = GeneratorSpec(ngf=8, n_blocks=3)
    save_network(init_weights(spec.build()), other / "G_A.safetensors", generator_metadata(spec, "AtoB", 32))
    with pytest.raises(CheckpointError, match="different architectures.*n_blocks=2.*n_blocks=3"):
        average_checkpoints([e1, other], tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists()


def test_average_states_refuses_what_has_no_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(3)}
    assert torch.equal(average_states([a, b])["w"], torch.tensor([2.0, 3.5]))
    with pytest.raises(CheckpointError, match="at least 2"):
        average_states([a])
    with pytest.raises(CheckpointError, match="integer tensor"):
        average_states([a, {**b, "n": torch.tensor(4)}])
    with pytest.raises(CheckpointError, match="other weights"):
        average_states([a, {"w": b["w"]}])
    with pytest.raises(CheckpointError, match="shapes"):
        average_states([a, {**b, "w": torch.zeros(3)}])


def test_the_card_says_the_weights_are_a_mean(two_epochs, tmp_path, capsys):
    out = average_checkpoints(checkpoints_of(two_epochs), tmp_path / "avg")
    stage = tmp_path / "stage"
    assert main(["publish", str(out), "--repo", "me/avg", "--dry-run", "--stage", str(stage)]) == 0
    card = (stage / "README.md").read_text()
    assert "element-wise mean of 2 checkpoints" in card and "`run/epoch_0002` (step 6)" in card
    assert json.loads((stage / "config.json").read_text())["step"] == 6
