"""The model path of `pixelate`: checkpoint forms, safety, grid-aware inference, tiling."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli import main
from inference.grid import cell_means, cell_purity
from inference.pixelator import ModelOptions, Pixelator
from inference.tiling import tile_starts
from pixelforge.imaging import count_colors
from pixelforge.model.checkpoint import CheckpointError, generator_metadata, save_network
from pixelforge.model.networks import GeneratorSpec, init_weights

TINY = GeneratorSpec(ngf=8, n_blocks=2)


@pytest.fixture(scope="module")
def tiny_net():
    torch.manual_seed(0)
    return init_weights(TINY.build()).eval()


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, tiny_net):
    """A run folder as `train` writes it: runs/NAME/checkpoints/latest/G_A.safetensors with metadata."""
    root = tmp_path_factory.mktemp("runs") / "tiny"
    latest = root / "checkpoints" / "latest"
    latest.mkdir(parents=True)
    save_network(tiny_net, latest / "G_A.safetensors", generator_metadata(TINY, "AtoB", 64))
    save_network(tiny_net, latest / "G_B.safetensors", generator_metadata(TINY, "BtoA", 64))
    return root


def photo(width, height, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([x / width * 255, y / height * 255, 128 + 100 * np.sin(x / 7) * np.cos(y / 11)], -1)
    arr = arr + rng.normal(0, 10, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def reference_forward(net, rgb):
    """What the reference test script computes: the generator on [-1, 1] input, back to 0..255."""
    x = torch.from_numpy(rgb.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        y = net(x)
    return ((y[0].permute(1, 2, 0).numpy() + 1.0) * 127.5).astype(np.float32)


# --------------------------------------------------------------------------- loading


def test_every_checkpoint_form_loads(run_folder, tiny_net, tmp_path):
    for path in (run_folder, run_folder / "checkpoints" / "latest", run_folder / "checkpoints" / "latest" / "G_A.safetensors"):
        px = Pixelator.from_checkpoint(path)
        assert px.spec == TINY and not px.is_classic
    # a reference .pth: torch.save of a state dict, DataParallel prefix and InstanceNorm leftovers included
    state = {f"module.{k}": v.clone() for k, v in tiny_net.state_dict().items()}
    state["module.model.2.running_mean"] = torch.zeros(8)
    pth = tmp_path / "latest_net_G_A.pth"
    torch.save(state, pth)
    px = Pixelator.from_checkpoint(pth, spec=TINY)
    img = photo(32, 24)
    assert np.array_equal(np.asarray(px.pixelate(img)), np.asarray(Pixelator.from_checkpoint(run_folder).pixelate(img)))
    # without a spec the architecture is read off the tensors; a wrong explicit one is explained
    assert Pixelator.from_checkpoint(pth).spec == TINY
    with pytest.raises(CheckpointError, match="--ngf 8 --n-blocks 2"):
        Pixelator.from_checkpoint(pth, spec=GeneratorSpec())


def test_public_api_has_the_cli_defaults(run_folder):
    from inference import Pixelator as Public

    px = Public.from_checkpoint(run_folder)
    assert (px.options.cell_size, px.options.palette, px.options.dither, px.options.native) == (4, "16", "none", False)
    assert px.model.pixels_per_cell == 1
    out = px.pixelate(photo(24, 20))
    assert isinstance(out, Image.Image) and out.size == (24, 20)
    with pytest.raises(TypeError, match="unknown option"):
        Public.from_checkpoint(run_folder, colour=3)


def test_reference_defaults_for_pth(tmp_path):
    torch.manual_seed(1)
    net = GeneratorSpec().build()
    pth = tmp_path / "latest_net_G_A.pth"
    torch.save(net.state_dict(), pth)
    assert Pixelator.from_checkpoint(pth).spec == GeneratorSpec(ngf=64, n_blocks=9)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_carrying_code_is_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"
    pth = tmp_path / "latest_net_G_A.pth"
    with open(pth, "wb") as fh:
        pickle.dump({"model.1.weight": _Evil(marker)}, fh)
    torch.save({"model.1.weight": _Evil(marker)}, tmp_path / "evil_zip.pth")
    for path in (pth, tmp_path / "evil_zip.pth"):
        with pytest.raises(CheckpointError, match="refused"):
            Pixelator.from_checkpoint(path)
    img = tmp_path / "a.png"
    photo(16, 16).save(img)
    assert main([str(img), "-o", str(tmp_path / "out"), "--checkpoint", str(pth)]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()


def test_missing_or_wrong_checkpoints_are_clear(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Pixelator.from_checkpoint(tmp_path / "nothing")
    bad = tmp_path / "G_A.safetensors"
    bad.write_bytes(b"not safetensors at all")
    with pytest.raises(CheckpointError):
        Pixelator.from_checkpoint(bad)


# --------------------------------------------------------------------------- the model path


def test_full_resolution_path_is_the_reference_forward_pass(tiny_net):
    img = photo(48, 40)
    px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=0, views=1, margin=0)).with_options(anchor_colors=0, settle_flats=0)  # the pass alone
    expected = cell_means(reference_forward(tiny_net, np.asarray(img)), 4)[0]
    np.testing.assert_allclose(px.cells(img).colors, expected, atol=1e-3)


def test_reduced_resolution_runs_the_generator_on_the_box_averaged_picture(tiny_net):
    img = photo(48, 40)
    px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2, views=1, margin=0)).with_options(anchor_colors=0, settle_flats=0)
    assert px.effective_pixels_per_cell() == 2
    working = np.asarray(img.reduce(2), dtype=np.float32)  # 24x20 box average: 2x2 generator pixels per 4x4 cell
    assert np.abs(working - cell_means(np.asarray(img), 2)[0]).max() <= 0.5
    expected = cell_means(reference_forward(tiny_net, working), 2)[0]
    np.testing.assert_allclose(px.cells(img).colors, expected, atol=1e-3)


@pytest.mark.parametrize("ppc", [1, 2])
def test_the_generator_sees_thin_lines_in_their_own_colour(tiny_net, monkeypatch, ppc):
    """A 1 px dark line averages to a pale grey at one pixel per cell; the model's input keeps it dark."""
    arr = np.full((64, 64, 3), 235, np.uint8)
    arr[:, 30] = (20, 20, 60)  # a 1 px navy line inside the cell column 28..31
    img = Image.fromarray(arr)
    seen = {}
    for outlines in (True, False):
        px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=ppc)).with_options(outlines=outlines)
        monkeypatch.setattr(px, "translate_many", lambda pictures, o=outlines: seen.setdefault(o, pictures) and pictures)
        px.cells(img)
    factor = 4 // ppc
    on, off = seen[True][0], seen[False][0]
    assert on.shape == off.shape == (64 // factor, 64 // factor, 3)
    column = 30 // factor
    np.testing.assert_allclose(on[:, column], np.tile([20, 20, 60], (on.shape[0], 1)), atol=1)  # the line's colour
    assert off[:, column, 0].min() > 120  # a plain box average: a quarter (or half) of the block is line, the rest paper
    rest = np.delete(np.arange(on.shape[1]), column)
    np.testing.assert_array_equal(on[:, rest], off[:, rest])  # every other block is the same box average


def test_anchoring_undoes_the_generators_drift_and_keeps_its_drawing(tiny_net, monkeypatch):
    """A generator that whitens a pale blue backdrop and draws a 1 px outline: the blue comes back, the outline stays."""
    img = Image.fromarray(np.full((64, 64, 3), (150, 190, 230), np.uint8))
    drawn = np.full((32, 32, 3), 255.0, np.float32)  # at 2 px per cell: every backdrop pixel turned white ...
    drawn[:, 15] = (30, 30, 40)  # ... and a dark outline drawn down generator column 15 (cell column 7)
    seen = {}
    for sigma in (0.0, 2.0):
        px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(anchor_colors=sigma)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        seen[sigma] = px.cells(img).colors
        assert ("picture's colours above 2 cells" if sigma else "the generator's own colours") in px.describe()
    off, on = seen[0.0], seen[2.0]
    np.testing.assert_allclose(off[:, 0], 255)  # off: the generator's white, as it drew it
    np.testing.assert_allclose(on[:, 0], np.tile([150, 190, 230], (16, 1)), atol=2)  # on: far from the line, the picture's own blue
    assert (on[:, 7].mean(-1) < on[:, 5].mean(-1) - 40).all()  # the outline still stands out from the cells beside it
    assert (on[:, 7] < off[:, 7] + 50).all()  # and stays dark: anchoring moves it only by the broad drift
    with pytest.raises(ValueError, match="--anchor-colors -1: must be between 0"):
        Pixelator(tiny_net, TINY).with_options(anchor_colors=-1)


@pytest.mark.parametrize("size", [(50, 30), (33, 47), (7, 5)])
def test_model_output_keeps_size_grid_and_palette(run_folder, size):
    px = Pixelator.from_checkpoint(run_folder)
    out = px.pixelate(photo(*size))
    assert out.size == size  # aspect ratio and size kept, no padding to multiples of 4 left over
    assert cell_purity(out, 4) == 1.0 and count_colors(out) <= 16
    native = Pixelator.from_checkpoint(run_folder, native=True, cell_size=5, palette="gameboy").pixelate(photo(*size))
    assert native.size == (-(-size[0] // 5), -(-size[1] // 5)) and count_colors(native) <= 4


def test_model_path_differs_from_classical_and_keeps_alpha(run_folder, cartoon_files):
    img = Image.open(cartoon_files[0])
    img.load()
    model = Pixelator.from_checkpoint(run_folder).pixelate(img)
    classic = Pixelator.classic().pixelate(img)
    assert model.mode == "RGBA" and set(np.unique(np.asarray(model)[..., 3]).tolist()) <= {0, 255}
    assert np.array_equal(np.asarray(model)[..., 3], np.asarray(classic)[..., 3])
    assert not np.array_equal(np.asarray(model), np.asarray(classic))


def test_cli_with_checkpoint(run_folder, tmp_path, capsys):
    src = tmp_path / "in.png"
    photo(40, 28).save(src)
    out = tmp_path / "out.png"
    assert main([str(src), "-o", str(out), "--checkpoint", str(run_folder), "--which", "G_B", "-q"]) == 0
    err = capsys.readouterr().err
    assert "CycleGAN generator" in err and "classical" not in err
    assert Image.open(out).size == (40, 28)
    # --palette-from: the model's colours (default) or the picture's
    two_colour_picture().save(src)
    for source in ("picture", "output"):
        assert main([str(src), "-o", str(tmp_path / f"{source}.png"), "--checkpoint", str(run_folder), "--palette", "2",
                     "--palette-from", source, "-q"]) == 0
    kept = {tuple(c) for c in np.unique(np.asarray(Image.open(tmp_path / "picture.png").convert("RGB")).reshape(-1, 3), axis=0)}
    assert kept <= {(200, 30, 40), (30, 60, 190)}
    assert Image.open(tmp_path / "picture.png").tobytes() != Image.open(tmp_path / "output.png").tobytes()


# --------------------------------------------------------------------------- tiling


def test_tile_starts_cover_everything_with_overlap():
    assert tile_starts(100, 128, 16) == [0]
    starts = tile_starts(300, 128, 32)
    assert starts[0] == 0 and starts[-1] == 300 - 128
    assert all(b - a <= 128 - 32 for a, b in zip(starts, starts[1:]))


def test_tiled_inference_blends_without_seams(tiny_net):
    rgb = np.asarray(photo(232, 168, seed=3), dtype=np.float32)
    whole = Pixelator(tiny_net, TINY, model=ModelOptions(tile=1024, margin=0)).translate(rgb)
    tiled = Pixelator(tiny_net, TINY, model=ModelOptions(tile=96, overlap=24, batch_pixels=96 * 96 * 3, margin=0)).translate(rgb)
    assert tiled.shape == whole.shape == rgb.shape
    # the tiles share InstanceNorm statistics: far closer to the untiled result than tiles on their own
    assert np.abs(tiled - whole).mean() < 0.5 * np.abs(whole - whole.mean((0, 1))).mean()
    # no seams: the jump across a tile border is no larger than between ordinary neighbouring columns
    steps = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))
    borders = [s - 1 for s in tile_starts(232, 96, 24)[1:]] + [s + 96 - 1 for s in tile_starts(232, 96, 24)[:-1]]
    assert steps[borders].max() < 1.5 * np.median(steps) + 2.0


def test_tiled_inference_bounds_memory(tmp_path):
    """Peak RSS of a picture through small tiles stays far below one untiled pass (the 4096² check is in the benchmark)."""
    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=16, n_blocks=1)
    weights = tmp_path / "G_A.safetensors"
    save_network(init_weights(spec.build()), weights, generator_metadata(spec, "AtoB", 256))
    script = f"""
import sys, numpy as np, torch
from PIL import Image
from inference.pixelator import Pixelator
torch.set_num_threads(1)
img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (640, 640, 3), dtype=np.uint8))
tile = int(sys.argv[1])
px = Pixelator.from_checkpoint({str(weights)!r}, pixels_per_cell=0, tile=tile, overlap=16, batch_pixels=tile * tile)
px.pixelate(Image.new("RGB", (16, 16)))  # warm up allocators and thread pools
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS:")
px.pixelate(img)
print((status("VmHWM:") - base) // 1024)
"""
    peaks = {}
    for tile in (128, 1024):
        env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1"}  # one heap: peaks are comparable
        out = subprocess.run([sys.executable, "-c", script, str(tile)], capture_output=True, text=True, timeout=240, env=env)
        assert out.returncode == 0, out.stderr
        peaks[tile] = int(out.stdout.strip().splitlines()[-1])
    assert peaks[128] < 0.5 * peaks[1024], peaks


def test_reduced_precision_path_runs_and_stays_close(tiny_net):
    """The bf16 autocast branch (what GPUs use) exercised on CPU: same grid, colours close to fp32."""
    img = photo(48, 40)
    fp32 = Pixelator(tiny_net, TINY).cells(img).colors
    px = Pixelator(tiny_net, TINY, model=ModelOptions(precision="bf16"))
    assert px.dtype == torch.bfloat16
    bf16 = px.cells(img).colors
    assert bf16.shape == fp32.shape and np.isfinite(bf16).all()
    assert np.abs(bf16 - fp32).mean() < 4.0
    out = px.pixelate(img)
    assert cell_purity(out, 4) == 1.0 and count_colors(out) <= 16


def test_held_lines_put_back_the_thin_lines_the_generator_paled(tiny_net, monkeypatch):
    """A generator that paints over a 1 px line: with hold_lines its cells come back in the line's colour, and only
    the cells beside them change too (to the picture's own)."""
    arr = np.full((64, 64, 3), 235, np.uint8)
    arr[:, 30] = (20, 20, 60)  # a 1 px navy line in cell column 7
    arr[40:, :16] = (90, 160, 90)  # a broad green field: not a line, the generator's drawing stays there
    img = Image.fromarray(arr)
    drawn = np.full((32, 32, 3), 200.0, np.float32)  # at 2 px per cell: a flat grey, line and field painted over
    seen = {}
    for hold in (False, True):
        px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(anchor_colors=0, hold_lines=hold)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        seen[hold] = px.cells(img).colors
        assert ("thin lines held" in px.describe()) is hold
    off, on = seen[False], seen[True]
    np.testing.assert_allclose(off, 200)  # off: what the generator drew, everywhere
    np.testing.assert_allclose(on[:, 7], np.tile([20, 20, 60], (16, 1)), atol=1)  # on: the line's own colour, every row
    np.testing.assert_allclose(on[:, [6, 8]], 235, atol=1)  # beside it the picture's own cells: no shadow of a line drawn a cell off
    np.testing.assert_array_equal(np.delete(on, [6, 7, 8], axis=1), np.delete(off, [6, 7, 8], axis=1))  # nothing else changes
    # the classical path holds the same cells
    classic = Pixelator.classic().cells(img).colors
    np.testing.assert_allclose(on[:, 7], classic[:, 7], atol=1)
    # a transparent cell is never given a line: the held cells are only the opaque ones
    rgba = np.dstack([arr, np.full((64, 64), 255, np.uint8)])
    rgba[:32, 28:32, 3] = 0
    px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(anchor_colors=0, hold_lines=True)
    monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
    cells = px.cells(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_allclose(cells.colors[:7, 7], 200)  # rows 0-6: transparent, and not beside a held cell
    np.testing.assert_allclose(cells.colors[8:, 7], np.tile([20, 20, 60], (8, 1)), atol=1)
    # off with outlines off: the classical path would not hold lines either
    px = px.with_options(outlines=False)
    np.testing.assert_allclose(px.cells(img).colors, 200)


def test_kept_features_stay_as_dark_as_the_generator_was_shown_them(tiny_net, monkeypatch):
    """A generator shown a line's cells (model_input dark-cells) that draws them pale: with keep_features they take
    the colour they were shown; a cell it drew darker keeps its drawing, and so does every cell it was not shown."""
    arr = np.full((64, 64, 3), 235, np.uint8)
    arr[:, 29:31] = (20, 20, 60)  # a 2 px navy line in cell column 7
    arr[40:, :16] = (90, 160, 90)  # a broad green field: not a feature
    img = Image.fromarray(arr)
    drawn = np.full((32, 32, 3), 200.0, np.float32)  # at 2 px per cell: a flat grey, the line painted over
    drawn[6:8, 14:16] = 5.0  # but cell (3, 7) drawn darker than the line
    seen = {}
    for model_input, keep in (("dark-cells", False), ("dark-cells", True), ("lines", True)):
        px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2, model_input=model_input)).with_options(
            anchor_colors=0, settle_flats=0, keep_features=keep)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        seen[model_input, keep] = px.cells(img).colors
        assert ("kept as dark as shown" in px.describe()) is (keep and model_input != "lines")
    off, on = seen["dark-cells", False], seen["dark-cells", True]
    assert off[3, 7].max() < 6 and np.allclose(np.delete(off, 3, axis=0)[:, 7], 200)  # off: the drawing
    np.testing.assert_array_equal(seen["lines", True], off)  # a model shown no feature cells: nothing to keep
    line = np.delete(on, 3, axis=0)[:, 7]
    np.testing.assert_allclose(line, np.tile([20, 20, 60], (15, 1)), atol=1)  # on: the colour it was shown
    assert on[3, 7].max() < 6  # drawn darker than shown: its own drawing stays
    np.testing.assert_array_equal(np.delete(on, 7, axis=1), np.delete(off, 7, axis=1))  # nothing else changes
    from inference.arguments import build_parser
    from inference.cli import make_pixelator

    assert make_pixelator(build_parser().parse_args(["x.png", "-o", "out", "--keep-features"])).options.keep_features


def test_kept_highlights_come_back_where_the_generator_drew_them_over(tiny_net, monkeypatch):
    """A generator that paints a navy field flat over a thin light line in it: with keep_highlights the line's cells take
    the highlight's colour, as the classical path draws it; a line cell drawn lighter than it was shown keeps its
    drawing, and so does every other cell; transparent cells and outlines off keep the drawing too."""
    arr = np.full((64, 64, 3), (30, 40, 110), np.uint8)  # a navy field
    arr[:, 29:31] = (250, 245, 200)  # a 2 px cream highlight in cell column 7
    img = Image.fromarray(arr)
    drawn = np.full((32, 32, 3), (30, 40, 110), np.float32)  # at 2 px per cell: the field, the highlight painted over
    drawn[6:8, 14:16] = 255.0  # but cell (3, 7) drawn lighter than it was shown
    seen = {}
    for keep in (False, True):
        px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(
            anchor_colors=0, settle_flats=0, keep_highlights=keep)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        seen[keep] = px.cells(img).colors
        assert ("highlights it drew over put back" in px.describe()) is keep
    off, on = seen[False], seen[True]
    np.testing.assert_allclose(np.delete(off, 3, axis=0)[:, 7], np.tile([30, 40, 110], (15, 1)), atol=1)  # off: the drawing
    classic = Pixelator.classic().cells(img).colors
    line = np.delete(on, 3, axis=0)[:, 7]
    np.testing.assert_allclose(line, np.delete(classic, 3, axis=0)[:, 7], atol=1)  # on: the classical path's highlight
    np.testing.assert_allclose(line, np.tile([250, 245, 200], (15, 1)), atol=1)  # the line's own cream, not the cell's average
    np.testing.assert_allclose(on[3, 7], 255)  # drawn lighter than shown: its own drawing stays
    np.testing.assert_array_equal(np.delete(on, 7, axis=1), np.delete(off, 7, axis=1))  # nothing else changes
    rgba = np.dstack([arr, np.full((64, 64), 255, np.uint8)])
    rgba[:32, 28:32, 3] = 0  # the line's upper half transparent
    px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(
        anchor_colors=0, settle_flats=0, keep_highlights=True)
    monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
    cells = px.cells(Image.fromarray(rgba, "RGBA")).colors
    np.testing.assert_allclose(cells[:3, 7], np.tile([30, 40, 110], (3, 1)), atol=1)  # transparent: never given a highlight
    np.testing.assert_allclose(cells[8:, 7], np.tile([250, 245, 200], (8, 1)), atol=1)
    np.testing.assert_allclose(px.with_options(outlines=False).cells(img).colors, px.with_options(keep_highlights=False).cells(img).colors)
    # a cell the generator was shown as a dark feature stays as kept dark: a highlight never goes over it
    import inference.pixelator as pixelator_module

    feature = np.zeros((16, 16), bool)
    feature[:8, 7] = True  # the line's upper half shown to the generator as a dark feature
    monkeypatch.setattr(pixelator_module, "shown_feature_cells",
                        lambda rgb, cell, kind, opaque=None: (feature, np.full((16, 16, 3), 80.0, np.float32)))
    px = Pixelator(tiny_net, TINY, model=ModelOptions(pixels_per_cell=2, model_input="dark-cells")).with_options(
        anchor_colors=0, settle_flats=0, keep_features=True, keep_highlights=True)
    monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
    cells = px.cells(img).colors
    # shown grey 80: drawn navy (darker), keep_features keeps the drawing and no highlight goes over it; drawn white
    # (row 3, paler), it takes the grey it was shown
    np.testing.assert_allclose(np.delete(cells[:8, 7], 3, axis=0), np.tile([30, 40, 110], (7, 1)), atol=1)
    np.testing.assert_allclose(cells[3, 7], 80)
    np.testing.assert_allclose(cells[8:, 7], np.tile([250, 245, 200], (8, 1)), atol=1)  # the highlight below it, back
    from inference.arguments import build_parser
    from inference.cli import make_pixelator

    assert make_pixelator(build_parser().parse_args(["x.png", "-o", "out", "--keep-highlights"])).options.keep_highlights
    assert not make_pixelator(build_parser().parse_args(["x.png", "-o", "out"])).options.keep_highlights


def two_colour_picture() -> Image.Image:
    """Red and blue 4x4 blocks on a cell-aligned grid: the picture's own cells hold exactly these two colours."""
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 2, (12, 12)).astype(bool)
    arr = np.where(blocks.repeat(4, 0).repeat(4, 1)[..., None], np.uint8([200, 30, 40]), np.uint8([30, 60, 190]))
    return Image.fromarray(arr.astype(np.uint8))


def test_the_model_draws_and_the_picture_keeps_its_colours(tiny_net):
    img = two_colour_picture()
    output = Pixelator(tiny_net, TINY).with_options(cell_size=4, palette="2")
    picture = output.with_options(palette_from="picture")
    assert output.options.palette_from == "output"  # the default: the model's own colours
    assert {tuple(c) for c in np.unique(np.asarray(picture.pixelate(img)).reshape(-1, 3), axis=0)} <= {(200, 30, 40), (30, 60, 190)}
    # the untrained net's colours are noise: a palette fitted on its output holds neither colour
    drawn = {tuple(c) for c in np.unique(np.asarray(output.pixelate(img)).reshape(-1, 3), axis=0)}
    assert not drawn & {(200, 30, 40), (30, 60, 190)}
    # the same cells either way: only the palette differs
    assert np.array_equal(picture.cells(img).colors, output.cells(img).colors)
    assert [np.asarray(o).tolist() for o in picture.pixelate_many([img, img])] == [np.asarray(picture.pixelate(img)).tolist()] * 2
    # a named palette is a named palette, whatever palette_from says
    gb = [Pixelator(tiny_net, TINY).with_options(palette="gameboy", palette_from=p).pixelate(img) for p in ("picture", "output")]
    assert np.array_equal(np.asarray(gb[0]), np.asarray(gb[1]))
    with pytest.raises(ValueError, match="palette_from must be one of picture, output"):
        Pixelator(tiny_net, TINY).with_options(palette_from="model")
