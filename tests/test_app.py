"""The web app (`pixelate serve`): its API equals the CLI, the real page works in Chromium, bad uploads are refused."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from inference.cli import main as cli_main
from inference.grid import cell_purity
from inference.preview import reduced_copy
from inference.shipped import DEFAULT_METHOD, SHIPPED_NAME
from pixelforge.imaging import count_colors
from pixelforge.model.checkpoint import generator_metadata, save_network
from pixelforge.model.networks import GeneratorSpec, init_weights
from webapp.jobs import JobFiles, run_animation, run_preview, run_still
from webapp.models import CLASSICAL, SHIPPED_G_A, Models
from webapp.settings import JobError, Limits, Settings

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SPRITE = REPO / "tests" / "fixtures" / "art" / "cartoon" / "maleAdventurer_idle.png"  # Kenney, CC0
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
LIMITS = Limits()  # the defaults, so the docs screenshot shows what `pixelate serve` shows


def photo(width: int = 96, height: int = 72, seed: int = 0) -> Image.Image:
    """Smooth gradients, texture and noise: thousands of colours, so palettes and grids matter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([x / width * 255, y / height * 255, 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)], axis=-1)
    arr = arr + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def bomb_png(side: int = 30_000) -> bytes:
    """A valid PNG header announcing side x side pixels, with almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def long_gif(frames: int = 10_000) -> bytes:
    """A 1x1 GIF with ``frames`` frames, written by hand (Pillow would merge identical frames)."""
    frame = bytes.fromhex("21f904000a000000" "2c000000000100010000" "0202440100")
    return bytes.fromhex("474946383961010001008000000000ffffff") + frame * frames + b";"


def small_gif(n: int = 4) -> bytes:
    frames = [photo(48, 32, seed=i) for i in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("app-files")
    out = {"photo": root / "photo.png", "gif": root / "walk.gif", "notes": root / "notes.png", "bomb": root / "bomb.png"}
    photo().save(out["photo"])
    out["gif"].write_bytes(small_gif())
    out["notes"].write_text("these are notes, not a picture\n")
    out["bomb"].write_bytes(bomb_png())
    lines = np.full((72, 96, 3), 230, np.uint8)
    lines[:, 30], lines[40, :] = (20, 20, 60), (60, 20, 20)  # 1 px outlines: what --hold-lines keeps
    out["lines"] = root / "lines.png"
    Image.fromarray(lines).save(out["lines"])
    out["long"] = root / "long.gif"
    out["long"].write_bytes(long_gif())
    out["video"] = root / "clip.mp4"
    out["video"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))  # an MP4 header, then noise
    return out


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A tiny trained-looking run folder, as `train` writes it, for the model menu."""
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    torch.manual_seed(0)
    net = init_weights(spec.build()).eval()
    latest = tmp_path_factory.mktemp("runs") / "tiny" / "checkpoints" / "latest"
    latest.mkdir(parents=True)
    save_network(net, latest / "G_A.safetensors", generator_metadata(spec, "AtoB", 64))
    return latest.parent.parent


@pytest.fixture(scope="module")
def server(run_folder):
    """`pixelate serve` itself, started as a user starts it, on a free 127.0.0.1 port.

    A process of its own also keeps Gradio away from Twisted: other test modules import Scrapy,
    whose ``@implementer`` on an ``abc.ABC`` subclass leaves zope.interface's ClassProvides
    descriptor on ``abc.ABC`` itself, and Gradio's components (``getattr`` over ``dir(cls)``)
    trip on it. ``pixelate serve`` never imports Scrapy.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "inference", "serve", "--port", str(port), "--checkpoint", str(run_folder)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail(f"pixelate serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("pixelate serve did not answer within 180 s")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server, verbose=False)


def cli_result(src: Path, out: Path, args: list[str]) -> Path:
    assert cli_main([str(src), "-o", str(out), "-q", *args]) == 0
    return out


# --------------------------------------------------------------------------- API == CLI


@pytest.mark.parametrize(
    ("settings", "cli_args", "k"),
    [
        ({}, [], 16),
        (
            {"cell_size": 5, "palette": "pico8", "dither": "ordered", "native": True},
            ["--cell-size", "5", "--palette", "pico8", "--dither", "ordered", "--native"],
            16,
        ),
        ({"model": "RUN", "colors": 6, "dither": "floyd"}, ["--checkpoint", "RUN", "--palette", "6", "--dither", "floyd"], 6),
    ],
    ids=["defaults", "pico8-native", "checkpoint"],
)
def test_api_result_is_what_the_cli_writes(client, files, run_folder, tmp_path, settings, cli_args, k):
    settings = {key: str(run_folder) if v == "RUN" else v for key, v in settings.items()}
    cli_args = [str(run_folder) if a == "RUN" else a for a in cli_args]
    got = Path(client.predict(handle_file(str(files["photo"])), **settings, api_name="/pixelate"))
    want = cli_result(files["photo"], tmp_path / "cli.png", cli_args)
    assert got.read_bytes() == want.read_bytes()  # the same PNG encoder: byte-equal, so pixel-equal
    img = Image.open(got)
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(want)))
    cell = settings.get("cell_size", 4)
    assert img.size == ((-(-96 // cell), -(-72 // cell)) if settings.get("native") else (96, 72))
    assert cell_purity(img, 1 if settings.get("native") else cell) == 1.0
    assert count_colors(img) <= k


def test_hold_lines_reaches_the_model_as_the_cli_flag_does(client, files, run_folder, tmp_path):
    args = {"model": str(run_folder), "api_name": "/pixelate"}
    held = Path(client.predict(handle_file(str(files["lines"])), hold_lines=True, **args))
    drawn = Path(client.predict(handle_file(str(files["lines"])), **args))
    want = cli_result(files["lines"], tmp_path / "held.png", ["--checkpoint", str(run_folder), "--hold-lines"])
    assert held.read_bytes() == want.read_bytes()
    assert held.read_bytes() != drawn.read_bytes()  # the untrained net paints over the lines; held, they come back


def test_views_reach_the_model_as_the_cli_flag_does_and_are_limited(client, files, run_folder, tmp_path):
    args = {"model": str(run_folder), "api_name": "/pixelate"}
    drawn = Path(client.predict(handle_file(str(files["lines"])), views=1, **args))
    averaged = Path(client.predict(handle_file(str(files["lines"])), views=8, **args))
    auto = Path(client.predict(handle_file(str(files["lines"])), **args))  # the default: this small picture affords 8
    assert auto.read_bytes() == averaged.read_bytes()
    want = cli_result(files["lines"], tmp_path / "views.png", ["--checkpoint", str(run_folder), "--views", "8"])
    assert averaged.read_bytes() == want.read_bytes()
    assert averaged.read_bytes() != drawn.read_bytes()  # an untrained net is far from symmetric: the average differs
    settings = Settings(model=str(run_folder), views=8)
    assert settings.command().endswith("--views 8") and "--views" not in Settings(views=8).command()
    assert "--views" not in replace(settings, views=0).command() and replace(settings, views=1).command().endswith("--views 1")
    pixels = Image.open(files["lines"]).width * Image.open(files["lines"]).height
    small = Limits(view_pixels=pixels * 4)  # 4 views of this picture fit, 8 do not
    with pytest.raises(JobError, match=r"8 views of a 0\.00691-megapixel picture are 0\.0553 megapixels of drawing; this page draws up to"):
        run_still(files["lines"], settings, Models([str(run_folder)]), small, JobFiles(tmp_path / "jobs"))
    assert run_still(files["lines"], replace(settings, views=4), Models([str(run_folder)]), small, JobFiles(tmp_path / "jobs"))
    assert run_still(files["lines"], replace(settings, model=CLASSICAL), Models(), small, JobFiles(tmp_path / "jobs"))
    assert "views" in Limits().describe()


def test_views_limit_each_frame_of_an_animation(files, run_folder, tmp_path):
    frame = Image.open(files["gif"])
    pixels = frame.width * frame.height
    small = Limits(view_pixels=pixels * 4)  # 4 views of each frame fit, 8 do not
    settings = Settings(model=str(run_folder), views=8)
    with pytest.raises(JobError, match=r"Frames too large for 8 views .*views x megapixels up to"):
        run_animation(files["gif"], settings, Models([str(run_folder)]), small, JobFiles(tmp_path / "jobs"))
    done = run_animation(files["gif"], replace(settings, views=4), Models([str(run_folder)]), small, JobFiles(tmp_path / "jobs"))
    assert done.path.is_file()
    assert run_animation(files["gif"], replace(settings, model=CLASSICAL), Models(), small, JobFiles(tmp_path / "jobs"))


def test_keep_features_reaches_the_shipped_model_as_the_cli_flags_do(tmp_path):
    """The shipped model records --keep-features; "off" runs it as --no-keep-features does and draws some of Kenney's
    robot's feature cells paler, "on" is what it records. Neither flag is shown for the classical method."""
    robot = Path(__file__).parent / "fixtures" / "art" / "cartoon" / "robot_idle.png"
    models, files = Models(), JobFiles(tmp_path / "jobs")
    done = {keep: run_still(robot, Settings(model=SHIPPED_G_A, keep_features=keep), models, Limits(), files)
            for keep in ("recorded", "on", "off")}
    assert done["recorded"].result.read_bytes() == done["on"].result.read_bytes()
    want = cli_result(robot, tmp_path / "off.png", ["--shipped", "--no-keep-features"])
    assert done["off"].result.read_bytes() == want.read_bytes() != done["on"].result.read_bytes()
    assert done["off"].command.endswith("--shipped --no-keep-features") and done["on"].command.endswith("--keep-features")
    assert "keep-features" not in done["recorded"].command + Settings(keep_features="off").command()
    with pytest.raises(JobError, match="Keep shown features 'yes': choose one of recorded, on, off"):
        Settings(model=SHIPPED_G_A, keep_features="yes").options()


MODEL_OPTIONS = [  # (the API's keyword and value, the same as pixelate's flags)
    ({"keep_highlights": True}, ["--keep-highlights"]),
    ({"palette_from": "picture"}, ["--palette-from", "picture"]),
    ({"anchor_colors": 4.5}, ["--anchor-colors", "4.5"]),
    ({"settle_flats": 0}, ["--settle-flats", "0"]),
    ({"margin": 0}, ["--margin", "0"]),
]


@pytest.mark.parametrize(("chosen", "flags"), MODEL_OPTIONS, ids=[next(iter(c)) for c, _ in MODEL_OPTIONS])
def test_model_options_reach_the_model_as_the_cli_flags_do(client, files, run_folder, tmp_path, chosen, flags):
    got = Path(client.predict(handle_file(str(files["lines"])), model=str(run_folder), **chosen, api_name="/pixelate"))
    want = cli_result(files["lines"], tmp_path / "cli.png", ["--checkpoint", str(run_folder), *flags])
    assert got.read_bytes() == want.read_bytes()
    settings = Settings(model=str(run_folder), **chosen)
    assert settings.command().endswith(shlex.join(flags))  # the page's "Same as" line is that command
    assert shlex.join(flags) not in Settings(**chosen).command()  # the classical method takes none of them


def test_model_options_together_change_the_drawing_and_are_checked(client, files, run_folder, tmp_path):
    chosen = {k: v for c, _ in MODEL_OPTIONS for k, v in c.items()}
    args = {"model": str(run_folder), "api_name": "/pixelate"}
    changed = Path(client.predict(handle_file(str(files["lines"])), **chosen, **args))
    plain = Path(client.predict(handle_file(str(files["lines"])), **args))
    assert changed.read_bytes() != plain.read_bytes()
    flags = [f for _, fl in MODEL_OPTIONS for f in fl]
    assert changed.read_bytes() == cli_result(files["lines"], tmp_path / "all.png", ["--checkpoint", str(run_folder), *flags]).read_bytes()
    with pytest.raises(AppError, match="Value 33 is greater than maximum value 32"):  # the slider's own bound
        client.predict(handle_file(str(files["lines"])), margin=33, **args)
    with pytest.raises(JobError, match=r"Margin 33: this page shows a model 0 to 32 white pixels"):  # and the job's
        Settings(model=str(run_folder), margin=33).options()
    with pytest.raises(JobError, match="Palette from 'model': choose one of picture, output"):
        Settings(model=str(run_folder), palette_from="model").options()


def test_endpoint_signature_picture_first_settings_with_defaults(client):
    endpoint = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/pixelate"]
    params = endpoint["parameters"]
    assert params[0]["parameter_name"] == "picture" and not params[0]["parameter_has_default"]
    assert all(p["parameter_has_default"] for p in params[1:])
    assert [p["parameter_name"] for p in params[1:]] == [
        "model", "cell_size", "palette", "colors", "palette_file", "dither", "native", "scale", "hold_lines", "views",
        "keep_features", "keep_highlights", "palette_from", "anchor_colors", "settle_flats", "margin",
    ]  # fmt: skip
    assert len(endpoint["returns"]) == 1 and endpoint["returns"][0]["component"] == "Image"


# --------------------------------------------------------------------------- bad uploads


@pytest.mark.parametrize(
    ("name", "endpoint", "message"),
    [
        ("notes", "/pixelate", "not a picture this page can read"),
        ("bomb", "/pixelate", "Too large for this page (900000000 pixels)"),
        ("long", "/pixelate_animation", "Too many frames (10000 frames"),
        ("video", "/pixelate_animation", "This video cannot be decoded"),
        ("photo", "/pixelate_animation", "Invalid file type. Please upload a file that is one of these formats"),
    ],
)
def test_bad_upload_gets_its_message_and_the_server_keeps_serving(client, files, name, endpoint, message):
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(handle_file(str(files[name])), api_name=endpoint)
    good = client.predict(handle_file(str(files["photo"])), api_name="/pixelate")
    assert Image.open(good).size == (96, 72)


def test_bad_settings_get_their_message(client, files, tmp_path):
    bad = tmp_path / "broken.gpl"
    bad.write_text("not a palette\n")
    with pytest.raises(AppError, match="broken.gpl: not a GIMP palette"):
        client.predict(handle_file(str(files["photo"])), palette="file", palette_file=handle_file(str(bad)), api_name="/pixelate")
    with pytest.raises(AppError, match="/etc is not in the list of choices"):  # no loading of arbitrary paths
        client.predict(handle_file(str(files["photo"])), model="/etc", api_name="/pixelate")
    hexfile = tmp_path / "duo.hex"
    hexfile.write_text("112233\nddeeff\n")
    got = client.predict(handle_file(str(files["photo"])), palette="file", palette_file=handle_file(str(hexfile)), api_name="/pixelate")
    assert count_colors(Image.open(got)) <= 2


# --------------------------------------------------------------------------- animations and limits


def test_gif_comes_back_animated_with_one_palette(client, files):
    gif, video, downloads, status, swatches = client.predict(handle_file(str(files["gif"])), api_name="/pixelate_animation")
    assert video is None and len(downloads) == 1 and "4 frames" in status and swatches.count('class="swatch"') <= 16
    out = Image.open(gif)
    assert out.n_frames == 4
    colours = set()
    for i in range(4):
        out.seek(i)
        frame = out.convert("RGB")
        assert cell_purity(frame, 4) == 1.0
        colours |= set(map(tuple, np.asarray(frame).reshape(-1, 3)))
    assert len(colours) <= 16


def test_video_comes_back_as_an_mp4_browsers_play(client, tmp_path):
    import av

    from tests.test_inference_video import make_video

    make_video(tmp_path / "clip.mp4", n=12, w=64, h=48)
    gif, video, downloads, status, _ = client.predict(handle_file(str(tmp_path / "clip.mp4")), api_name="/pixelate_animation")
    assert gif is None and Path(video).suffix == ".mp4" and "12 frames" in status and "audio copied" in status
    with av.open(video) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert len(list(c.decode(video=0))) == 12
    make_video(tmp_path / "long.mp4", n=LIMITS.max_frames + 1, w=16, h=16, audio=False)
    with pytest.raises(AppError, match=re.escape(f"Too many frames ({LIMITS.max_frames + 1} frames, over the 300-frame limit)")):
        client.predict(handle_file(str(tmp_path / "long.mp4")), api_name="/pixelate_animation")


def test_time_limit_stops_an_animation(files, tmp_path):
    with pytest.raises(JobError, match="longer than the 0 s limit"):
        run_animation(files["gif"], Settings(), Models(), Limits(time_s=0), JobFiles(tmp_path))


def test_preview_works_on_a_reduced_copy_with_the_same_grid(tmp_path):
    big = photo(800, 600)
    small, cell = reduced_copy(big, 4, 160_000)
    assert small.size == (400, 300) and cell == 2  # halved, so cells of 2 keep the 200x150 grid
    small, cell = reduced_copy(big, 4, 10_000)
    assert small.size == (100, 75) and cell == 1  # past the cell size the grid gets coarser
    assert reduced_copy(photo(40, 30), 4, 160_000)[1] == 4  # small pictures are used as they are
    big.save(tmp_path / "big.png")
    image, note = run_preview(tmp_path / "big.png", Settings(scale=2), Models(), Limits())
    assert image.size == (400, 300) and "reduced copy" in note


def test_model_menu_and_serve_command(run_folder, capsys):
    models = Models([str(run_folder)])
    assert models.default == (CLASSICAL if DEFAULT_METHOD == "classic" else SHIPPED_G_A)
    assert models.choices() == [("classical (no ML)", CLASSICAL), (f"shipped: {SHIPPED_NAME}", SHIPPED_G_A),
                                (f"checkpoint: {run_folder}", str(run_folder))]
    settings = Settings(model=SHIPPED_G_A)
    assert "--shipped" in settings.command() and "--checkpoint" not in settings.command()
    assert "--hold-lines" not in settings.command()
    assert Settings(model=SHIPPED_G_A, hold_lines=True).command().endswith("--shipped --hold-lines")
    assert "--hold-lines" not in Settings(hold_lines=True).command()  # the classical method holds its lines anyway
    assert not models.pixelator(SHIPPED_G_A, cell_size=4).is_classic
    assert cli_main(["serve", "--checkpoint", str(run_folder / "missing")]) == 2
    assert "pixelate serve: error: model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        cli_main(["serve", "--help"])
    assert done.value.code == 0 and "--host" in capsys.readouterr().out


def test_space_entry_point_builds_the_same_app():
    """``app.py`` (what a Space runs) builds the same page; in a fresh process, as a Space starts it."""
    code = (
        "import json, app\n"
        "fns = [d for d in app.demo.fns.values() if d.api_name]\n"
        "print(json.dumps({d.api_name: d.concurrency_limit for d in fns}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    limits = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"pixelate", "pixelate_animation"} <= limits.keys()
    assert limits["pixelate"] == Limits().concurrency  # a queue with a concurrency limit


# --------------------------------------------------------------------------- the real page in Chromium


def test_page_in_headless_chromium(server, files, tmp_path):
    assert CHROMIUM.exists(), "needs Debian's chromium: apt-get install -y chromium (make test installs it)"
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server, wait_until="load")
            page.get_by_text("GIFs and videos up to 300 frames").wait_for(timeout=30_000)  # the limits are shown
            upload = page.locator("#picture input[type=file]")
            upload.set_input_files(str(SPRITE))
            page.get_by_text("Preview (24x32 cells)").wait_for(timeout=30_000)  # live preview, no click needed
            page.locator("#pixelate").click()
            page.locator("#downloads").get_by_role("cell", name="maleAdventurer_idle_px_native.png").wait_for(timeout=30_000)
            shown = page.locator("#view img")
            assert "maleAdventurer_idle_px_x8.png" in shown.get_attribute("src")
            size = shown.evaluate("img => [img.naturalWidth, img.naturalHeight, getComputedStyle(img).imageRendering]")
            assert size == [24 * 8, 32 * 8, "pixelated"]
            shot = tmp_path / "web-app.png"
            page.screenshot(path=str(shot), full_page=True)
            # the model's options fold away under one header and open on a click
            highlights = page.get_by_text("Keep highlights: thin light lines")
            assert not highlights.is_visible()
            page.locator("#model-options").get_by_text("Model options").click()
            highlights.wait_for(state="visible", timeout=10_000)
            assert page.locator("#margin input[type=number]").input_value() == "8"
            # a bad upload gets its message in the page, and the next good one still works
            upload.set_input_files(str(files["notes"]))
            page.get_by_text("not a picture this page can read").first.wait_for(timeout=30_000)
            upload.set_input_files(str(files["photo"]))
            page.get_by_text("Preview (24x18 cells)").wait_for(timeout=30_000)
            page.locator("#pixelate").click()
            page.locator("#downloads").get_by_role("cell", name="photo_px_native.png").wait_for(timeout=30_000)
        except Exception:
            page.screenshot(path="/tmp/app-failure.png", full_page=True)
            raise
        finally:
            browser.close()
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not a blank page
    docs = REPO / "docs" / "img" / "web-app.png"
    if not docs.exists() or os.environ.get("PIXELFORGE_SCREENSHOTS") == "1":
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_bytes(shot.read_bytes())
    hosts = {u.split("/")[2] for u in requests if u.startswith(("http://", "https://"))}
    assert hosts == {server.split("/")[2]}  # offline: no CDN, no analytics
