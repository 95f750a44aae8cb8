"""The model shipped in the package: it loads, obeys the pixel-art rules, and the CLI says which method runs."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open

from inference import shipped
from inference.cli import main
from inference.grid import cell_purity
from inference.pixelator import Pixelator
from pixelforge.imaging import count_colors
from pixelforge.model.recorded import (
    recommended_pixels_per_cell,
    recorded_anchor_within,
    recorded_input,
    recorded_keep_features,
)
from pixelforge.testing.hub_metadata import validate_card_metadata
from training.config import load_toml


def picture(seed: int = 0, size: int = 64) -> Image.Image:
    """A cartoon-like picture: flat shapes with dark outlines on white."""
    rng = np.random.default_rng(seed)
    arr = np.full((size, size, 3), 255, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(4):
        cy, cx, r = rng.integers(12, size - 12, 2).tolist() + [int(rng.integers(6, 14))]
        d = np.hypot(yy - cy, xx - cx)
        arr[d < r + 1.5] = (20, 20, 30)
        arr[d < r] = rng.integers(40, 230, 3)
    return Image.fromarray(arr)


def test_the_shipped_weights_are_small_fp16_safetensors_with_a_valid_card():
    path = shipped.shipped_weights()
    assert path.stat().st_size <= 10 * 2**20
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        assert {str(fh.get_tensor(k).dtype) for k in fh.keys()} == {"torch.float16"}
    assert meta["dtype"] == "float16" and int(meta["ngf"]) == 32 and meta["skip"] == "1"
    # shown the classical method's line cells less the highlights beside its dark ones (trained last on all its line
    # cells), keeping what it is shown: as measured
    assert (meta["input"], meta["keep_features"]) == ("classic-thin-cells", "1")
    card = shipped.shipped_card().read_text()
    assert validate_card_metadata(card, "model") == []
    for needed in ("## Training data", "## Metrics", "## Limitations", "CC-BY-SA-3.0", "Twemoji", "`lambda_content` | `40.0`", "`content_salience` | `8.0`", "`a_resize` | `\"classic-line-cells\"`", "`lambda_flat` | `50.0`", "`lr_decay` | `\"step\"`",
                   "`skip` | `true`", "`content_lines` | `true`", "pixelforge's long skip", "`--views 8`"):
        assert needed in card
    assert json.loads((shipped.SHIPPED_DIR / "config.json").read_text())["training"]["b_max_scale"] == 1


def test_shipped_model_output_keeps_the_pixel_art_rules():
    pix = Pixelator.shipped(cell_size=4, palette="16")
    assert "shipped model" in pix.describe() and not pix.is_classic
    out = pix.pixelate(picture(1))
    assert out.size == (64, 64) and cell_purity(np.asarray(out), 4) == 1.0 and count_colors(out) <= 16
    # the generator did something: its output differs from the classical method's
    assert not np.array_equal(np.asarray(out), np.asarray(Pixelator.classic(cell_size=4).pixelate(picture(1))))


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_cli_says_which_method_runs(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(_png(picture(2)))
    assert main([str(src), "-o", str(tmp_path / "s.png"), "--shipped", "-q"]) == 0
    assert f"the shipped model {shipped.SHIPPED_NAME}" in capsys.readouterr().err
    assert main([str(src), "-o", str(tmp_path / "h.png"), "--shipped", "--hold-lines", "-q"]) == 0
    assert "thin lines held" in capsys.readouterr().err
    held, drawn = (np.asarray(Image.open(tmp_path / n).convert("L"), float) for n in ("h.png", "s.png"))
    line = np.asarray(picture(2).convert("L"), float) < 60  # the picture's 1-2 px dark outlines
    assert held[line].mean() < 60 and not np.array_equal(held, drawn)  # held in their dark colour
    assert main([str(src), "-o", str(tmp_path / "c.png"), "--classic", "-q"]) == 0
    assert "classical method" in capsys.readouterr().err
    assert main([str(src), "-o", str(tmp_path / "d.png"), "-q"]) == 0
    err = capsys.readouterr().err
    if shipped.DEFAULT_METHOD == "classic":
        assert "classical method" in err and "--shipped" in err
        assert (tmp_path / "d.png").read_bytes() == (tmp_path / "c.png").read_bytes()
    else:
        assert "shipped model" in err
        assert (tmp_path / "d.png").read_bytes() == (tmp_path / "s.png").read_bytes()
    assert (tmp_path / "s.png").read_bytes() != (tmp_path / "c.png").read_bytes()
    with pytest.raises(SystemExit) as exc:  # one method at a time
        main([str(src), "-o", str(tmp_path / "x.png"), "--shipped", "--classic"])
    assert exc.value.code == 2
    assert main(["--model-card"]) == 0
    assert capsys.readouterr().out.startswith("---\n")


def test_a_missing_shipped_model_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path / "nowhere")
    src = tmp_path / "in.png"
    src.write_bytes(_png(picture(3)))
    assert main([str(src), "-o", str(tmp_path / "o.png"), "--shipped"]) == 2
    assert "shipped model is missing" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_model_and_ship_model_reproduce_the_model_the_package_ships():
    """`make model` trains the recipe whose run `make ship-model` stages into the folder the package loads."""
    root = Path(__file__).parents[1]

    def dry_run(target: str) -> str:
        done = subprocess.run(["make", "-n", target], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout

    model, ship = dry_run("model"), dry_run("ship-model")
    recipes = re.search(r"for recipe in ([^;]*);", model).group(1).split()
    assert recipes, "make model trains no recipe"
    assert "--input ../shared/corpus/cartoons" in model and "--input ../shared/corpus/pixel-art" in model
    last = load_toml(root / recipes[-1])
    assert f"training publish {last['output']} " in ship  # ship-model ships the run the last recipe writes
    staged = re.search(r"--stage (\S+)", ship).group(1)
    assert (root / staged).resolve() == shipped.SHIPPED_DIR.resolve()
    lines = [line for line in ship.splitlines() if line.strip() and not line.startswith("make")]  # not make[1]: ...
    measure = next(i for i, line in enumerate(lines) if "benchmarks/quality.py" in line)
    # the card's numbers are the staged fp16 file's, as pixelate --shipped runs it, not the fp32 run's
    assert f"--checkpoint {staged} " in lines[measure] and f"--metrics {last['output']}/metrics.json" in lines[measure]
    assert any("--stage" in line for line in lines[:measure]) and "--stage" in lines[-1]  # staged, measured, restaged
    assert f"--pixels-per-cell {recommended_pixels_per_cell(shipped.SHIPPED_DIR)} " in ship  # as the weights record
    within = recorded_anchor_within(shipped.SHIPPED_DIR)
    assert within is not None and ship.count(f"--anchor-within {within:g} ") == 3  # published twice, measured with it
    assert ship.count(f"--model-input {recorded_input(shipped.SHIPPED_DIR)} ") == 3
    assert ship.count("--keep-features ") == 3 and recorded_keep_features(shipped.SHIPPED_DIR)
    earlier: list[str] = []  # each recipe starts from weights in the repository or from an earlier recipe's run
    for recipe in recipes:
        cfg = load_toml(root / recipe)
        init = cfg.get("init_from")
        assert init is None or init in earlier or (root / init / "G_A.safetensors").is_file(), (recipe, init)
        earlier.append(cfg["output"])
