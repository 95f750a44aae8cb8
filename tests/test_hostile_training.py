"""Hostile and unlucky inputs to `train`: nothing overwritten, clear errors (exit 2), no tracebacks.

Each test reproduces a red-team finding (issue 14) and fails on the code before its fix.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from pixelforge.decoding import ImageDecodeError
from pixelforge.testing.dataset_folder import build_dataset_folder
from pixelforge.testing.sprites import make_sprite
from training.cli import main
from training.config import ConfigError, TrainConfig, min_size
from training.data import DataError, TableDomain, _load_or_next, open_domain, read_image_file
from training.loop import train
from training.report import read_losses


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    torch.set_num_threads(1)


def domains(root: Path) -> tuple[Path, Path]:
    a, b = root / "A", root / "B"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(a / f"p{i}.png")
        make_sprite(seed=i, size=(12, 12), n_colors=4).on_white().save(b / f"s{i}.png")
    return a, b


def args(root: Path, out: Path, *extra: str) -> list[str]:
    a, b = (root / "A", root / "B") if (root / "A").exists() else domains(root)
    return ["--domain-a", str(a), "--domain-b", str(b), "--output", str(out), "--size", "24", "--load-size", "28",
            "--ngf", "4", "--n-blocks", "1", "--ndf", "4", "--workers", "0", "--device", "cpu", "--max-steps", "1",
            "--epochs", "1", "--epochs-decay", "0", "--pool-size", "1", "--n-samples", "1", *extra]


def tiny(root: Path, **kw) -> TrainConfig:
    a, b = (root / "A", root / "B") if (root / "A").exists() else domains(root)
    base = TrainConfig(domain_a=str(a), domain_b=str(b), output=str(root / "run"), size=24, load_size=28, ngf=4,
                       n_blocks=1, ndf=4, epochs=1, epochs_decay=1, workers=0, device="cpu", pool_size=1, n_samples=1)
    return replace(base, **kw)


# ---- the output folder ----------------------------------------------------------------------------


def test_an_existing_folder_that_is_not_a_run_is_never_written_into(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    precious = {"config.json": '{"my": "settings"}', "index.html": "<p>my site</p>", "losses.csv": "a,b\n1,2\n"}
    for name, text in precious.items():
        (out / name).write_text(text)
    assert main(args(tmp_path, out)) == 2
    err = capsys.readouterr().err
    assert "exists and is not empty (not a run folder)" in err and "Traceback" not in err
    assert {p.name: p.read_text() for p in out.iterdir()} == precious
    # a run that died before its first checkpoint is ours, but without --resume it is not overwritten either
    run = tmp_path / "early"
    run.mkdir()
    (run / "config.json").write_text(TrainConfig(output=str(run)).to_json())
    assert main(args(tmp_path, run)) == 2
    assert "stopped before its first checkpoint" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(args(tmp_path, empty)) == 0  # an empty folder holds nothing to lose
    assert (empty / "checkpoints/latest/G_A.safetensors").is_file()


def test_output_inside_or_equal_to_a_domain_is_refused(tmp_path, capsys):
    a, _ = domains(tmp_path)
    for out in (a, a / "run"):
        assert main(args(tmp_path, out)) == 2
        assert "overlap" in capsys.readouterr().err
    assert sorted(p.name for p in a.iterdir()) == ["p0.png", "p1.png"]


# ---- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag, value, message", [
    ("--size", "16", "size 16 is too small for a 3-layer PatchGAN"),
    ("--lr", "nan", "lr must be a finite number >= 0"),
    ("--lr", "-1", "lr must be a finite number >= 0"),
    ("--lambda-a", "inf", "lambda_a must be a finite number"),
    ("--ngf", "100000", "ngf/ndf must be 1..1024"),
    ("--lambda-content", "-2", "lambda_content must be a finite number >= 0"),
    ("--content-pool", "0", "content_pool must be 1..size"),
])
def test_bad_numbers_are_clear_errors(tmp_path, capsys, flag, value, message):
    base = args(tmp_path, tmp_path / "run")
    i = base.index(flag) if flag in base else None
    argv = base[:i] + base[i + 2:] if i is not None else base
    assert main([*argv, flag, value]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_min_size_matches_the_networks():
    from pixelforge.model.networks import DiscriminatorSpec

    for n_layers in (1, 2, 3):
        size = min_size(n_layers)
        net = DiscriminatorSpec(ndf=2, n_layers=n_layers).build().train()
        assert net(torch.zeros(1, 3, size, size)).numel() >= 1
        with pytest.raises((RuntimeError, ValueError)):
            net(torch.zeros(1, 3, size - 4, size - 4))


def test_zero_samples_trains_without_a_sample_grid(tmp_path):
    result = train(tiny(tmp_path, n_samples=0, max_steps=1), progress=False)
    assert result.counters.step == 1 and not list((tmp_path / "run").glob("samples/*.png"))


# ---- domains --------------------------------------------------------------------------------------


def _shard(folder: Path) -> Path:
    return sorted((folder / "data").glob("train-*.parquet"))[0]


def test_unreadable_shards_and_missing_image_columns_are_clear_errors(tmp_path, capsys):
    a, _ = domains(tmp_path)
    broken = build_dataset_folder(tmp_path / "broken", n_train=2, n_test=1).path
    _shard(broken).write_bytes(b"PAR1 this is not parquet")
    plain = build_dataset_folder(tmp_path / "plain", n_train=2, n_test=1).path
    table = pq.read_table(_shard(plain)).drop_columns(["image", "native"])
    pq.write_table(table.replace_schema_metadata({}), _shard(plain))
    for folder, message in ((broken, "cannot read its train shards"), (plain, "no image column")):
        argv = ["--domain-a", str(a), "--domain-b", str(folder), "--output", str(tmp_path / f"run-{folder.name}"),
                "--device", "cpu"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "domain B" in err and "Traceback" not in err


def test_a_missing_shard_is_refused_not_half_trained(tmp_path):
    built = build_dataset_folder(tmp_path / "ds", n_train=6, n_test=1, shards={"train": 2, "test": 1})
    (built.path / "data" / "train-00001-of-00002.parquet").unlink()
    with pytest.raises(DataError, match=r"incomplete: 1 of 2 train shards missing \(train-00001-of-00002.parquet\)"):
        open_domain(str(built.path), "B")


def test_image_cells_pointing_at_dev_zero_are_rejections_not_hangs(tmp_path, capsys):
    assert Path("/dev/zero").exists()
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        read_image_file(Path("/dev/zero"))
    good = make_sprite(seed=1, size=(8, 8), n_colors=3).on_white()
    import io

    buf = io.BytesIO()
    good.save(buf, format="PNG")
    table = datasets.Dataset.from_dict(
        {"image": [{"bytes": None, "path": "/dev/zero"}, {"bytes": buf.getvalue(), "path": None}]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    domain = TableDomain(table, "image", "ds", "B", "test table", max_pixels=1 << 20)
    img, bad = _load_or_next(domain, 0)  # one bad row never aborts: the next one is used, the bad one reported
    assert img.size == (8, 8) and "/dev/zero is not a regular file" in bad[0]
    # a whole dataset folder of /dev/zero rows: exit 2 with a message, not a hang or a traceback
    built = build_dataset_folder(tmp_path / "zero", n_train=2, n_test=1, shards={"train": 1, "test": 1})
    shard = _shard(built.path)
    t = pq.read_table(shard)
    cell = pa.array([{"bytes": None, "path": "/dev/zero"}] * t.num_rows, type=t.schema.field("native").type)
    t = t.set_column(t.schema.get_field_index("native"), "native", cell)
    t = t.set_column(t.schema.get_field_index("image"), "image", cell)
    pq.write_table(t, shard)
    a, _ = domains(tmp_path)
    assert main(["--domain-a", str(a), "--domain-b", str(built.path), "--output", str(tmp_path / "r"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "none of the 2 images" in err and "Traceback" not in err


def test_a_mistyped_relative_path_is_not_tried_on_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or pytest.fail("Hub tried"))
    for typo in ("data/pixelartt", "./pixelart", "runs/x/y", "pixelart/"):
        with pytest.raises(DataError, match="no such folder"):
            open_domain(typo, "A")
    assert calls == []


# ---- resume -------------------------------------------------------------------------------------


def test_resume_with_a_damaged_state_is_a_clear_error(tmp_path, capsys):
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    state = Path(cfg.output) / "checkpoints/latest/state.json"
    original = state.read_text()
    for damage in ('{"counters": {"epoch": 0}}', "[1, 2, 3]", json.dumps({**json.loads(original), "opt_G": 7})):
        state.write_text(damage)
        assert main(["--resume", cfg.output, "--max-steps", "2"]) == 2
        err = capsys.readouterr().err
        assert ("does not have the expected shape" in err or "unreadable" in err) and "Traceback" not in err, err
    state.write_text(original)


def test_resume_survives_a_torn_losses_csv(tmp_path):
    cfg = tiny(tmp_path, max_steps=2)
    train(cfg, progress=False)
    losses = Path(cfg.output) / "losses.csv"
    whole = losses.read_text()
    losses.write_text(whole + "3,0,3,0.0002,0.5,0.\x00\x00")  # the tail a kill -9 leaves
    assert [r["step"] for r in read_losses(losses)][:2] == [1.0, 2.0]
    losses.write_text(whole.rstrip("\n") + "9\n4,0")  # a torn number and a short row
    rows = read_losses(losses)
    assert [r["step"] for r in rows][:2] == [1.0, 2.0]
    result = train(replace(cfg, resume=cfg.output, max_steps=3), progress=False)
    assert result.counters.step == 3
    assert [r["step"] for r in read_losses(losses)] == [1.0, 2.0, 3.0]


def test_existing_config_errors_still_name_resume(tmp_path):
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, progress=False)
    shutil.rmtree(cfg.output)
