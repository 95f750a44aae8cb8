"""Hostile and unlucky inputs to `pixelate` and the kernel decoder: bounded memory and time, clear errors.

Each test reproduces a red-team finding (issue 14) and fails on the code before its fix.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from curation.config import DecodeConfig
from curation.stages.decode import decode
from inference.cli import main
from inference.grid import cell_means, expand_cells
from inference.inputs import InputError, fetch_url
from inference.palette import MAX_COLORS, PaletteError, load_palette_file, map_to_palette, nearest_color
from pixelforge.decoding import FrameBudget, ImageDecodeError, iter_frames, open_image
from pixelforge.model.checkpoint import CheckpointError, generator_metadata
from pixelforge.model.loading import load_generator
from pixelforge.model.networks import GeneratorSpec
from pixelforge.testing.http_server import Response


def gif(frames: list[tuple[int, int, int, int]], screen: tuple[int, int] = (1, 1), disposal: int = 0) -> bytes:
    """An animated GIF whose frames are ``(x, y, w, h)`` rectangles; every frame's data is one index-0 pixel.

    Only the descriptors' geometry matters: this is how a 200-byte file declares a canvas of gigapixels.
    """
    out = b"GIF89a" + struct.pack("<HHBBB", screen[0], screen[1], 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    out += b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for x, y, w, h in frames:
        out += b"!\xf9\x04" + bytes([disposal << 2]) + b"\x0a\x00\x00\x00"
        out += b"," + struct.pack("<HHHHB", x, y, w, h, 0) + b"\x02\x02\x44\x01\x00"
    return out + b";"


def png(size=(40, 30), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# ---- animated GIFs whose canvas grows -------------------------------------------------------------


def test_gif_frames_far_from_the_origin_are_refused_before_decoding(tmp_path, capsys):
    """177 bytes that grow Pillow's canvas to 2000x2000 (and 64 Mpx with 8000): the limit holds for every frame."""
    bomb = gif([(0, 0, 1, 1)] + [(1999, 1999, 1, 1)] * 5)
    assert len(bomb) < 200
    start = time.perf_counter()
    with pytest.raises(ImageDecodeError, match="frame 1: 2000x2000 exceeds the 1000000-pixel limit") as err:
        list(iter_frames(bomb, FrameBudget(max_pixels=1_000_000)))
    assert err.value.reason == "too-large"
    huge = gif([(0, 0, 1, 1)] + [(64000, 64000, 1, 1)] * 50)
    with pytest.raises(ImageDecodeError, match="max_pixels"):
        list(iter_frames(huge))  # the default limit, refused from the headers: no 4-gigapixel canvas
    assert time.perf_counter() - start < 5
    src = tmp_path / "bomb.gif"
    src.write_bytes(bomb)
    out = tmp_path / "out.gif"
    assert main([str(src), "-o", str(out), "--max-pixels", "1000000", "-q"]) == 1
    err_text = capsys.readouterr().err
    assert "too-large" in err_text and "max_pixels" in err_text and not out.exists()


def test_gif_total_pixels_and_frame_count_have_budgets(tmp_path, capsys):
    many = gif([(0, 0, 1, 1)] * 30, screen=(100, 100))  # 30 canvases of 100x100
    with pytest.raises(ImageDecodeError, match="max_total_pixels"):
        list(iter_frames(many, FrameBudget(max_total_pixels=200_000)))
    with pytest.raises(ImageDecodeError, match="30 frames exceed the 10-frame limit") as err:
        list(iter_frames(many, FrameBudget(max_frames=10)))
    assert err.value.reason == "too-many-frames"
    assert len(list(iter_frames(many, FrameBudget(max_frames=10), stop_at=10))) == 10  # asking for fewer is fine
    src = tmp_path / "many.gif"
    src.write_bytes(many)
    assert main([str(src), "-o", str(tmp_path / "o.gif"), "--max-frames", "10", "-q"]) == 1
    assert "too-many-frames" in capsys.readouterr().err
    assert main([str(src), "-o", str(tmp_path / "o.gif"), "--max-total-pixels", "0", "-q"]) == 2


def test_curation_decode_all_frames_is_under_the_same_budget():
    bomb = gif([(0, 0, 1, 1)] + [(1999, 1999, 1, 1)] * 3)
    with pytest.raises(ImageDecodeError, match="too-large"):
        decode(bomb, DecodeConfig(frames="all", max_pixels=1_000_000))
    assert len(decode(bomb, DecodeConfig(frames="first", max_pixels=1_000_000))) == 1  # frame 0 alone is 1x1
    frames = decode(gif([(0, 0, 1, 1)] * 5, screen=(4, 4)), DecodeConfig(frames="all", max_frames=3))
    assert [f.frame for f in frames] == [0, 1, 2] and all(f.n_frames == 5 for f in frames)


def test_a_gif_whose_canvas_grows_a_little_keeps_every_frame_whole(tmp_path):
    """Within the budget a growing canvas is legal; every output frame is the final canvas, not frame 0's 4x4."""
    src = tmp_path / "grow.gif"
    src.write_bytes(gif([(0, 0, 1, 1), (5, 5, 1, 1), (9, 0, 1, 1)], screen=(4, 4)))
    out = tmp_path / "grow_px.gif"
    assert main([str(src), "-o", str(out), "--cell-size", "2", "-q"]) == 0
    result = Image.open(out)
    assert result.size == (10, 6) and result.n_frames == 3


# ---- EXIF orientation -----------------------------------------------------------------------------


def _sideways_jpeg() -> bytes:
    """A 40x20 photo stored sideways with EXIF orientation 6 (viewers rotate it to 20x40)."""
    img = Image.new("RGB", (40, 20), (250, 0, 0))
    img.paste((0, 0, 250), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=95)
    return buf.getvalue()


def test_exif_orientation_is_applied_by_the_kernel_decoder(tmp_path):
    data = _sideways_jpeg()
    upright = open_image(data).image
    assert upright.size == (20, 40)
    # orientation 6 = rotate 90 clockwise to view: the left (red) half ends up on top
    assert upright.getpixel((10, 5))[0] > 200 and upright.getpixel((10, 35))[2] > 200
    assert decode(data)[0].image.size == (20, 40)  # curation gets it from the kernel too
    src = tmp_path / "photo.jpg"
    src.write_bytes(data)
    assert main([str(src), "-o", str(tmp_path / "photo.png"), "--cell-size", "2", "-q"]) == 0
    assert Image.open(tmp_path / "photo.png").size == (20, 40)
    plain = Image.open(io.BytesIO(png()))
    assert open_image(png()).image.size == plain.size  # no EXIF: untouched


# ---- checkpoints that lie about their size --------------------------------------------------------


@pytest.mark.parametrize("ngf, message", [("512", "does not match"), ("100000", "ngf=100000 is outside"),
                                          ("-4", "ngf=-4 is outside"), ("1e9", "not integers")])
def test_checkpoint_metadata_is_checked_before_any_network_is_built(tmp_path, monkeypatch, capsys, ngf, message):
    meta = generator_metadata(GeneratorSpec(), "AtoB", 256)
    meta["ngf"] = ngf
    path = tmp_path / "G_A.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata=meta)
    assert path.stat().st_size < 300
    built = []
    real_build = GeneratorSpec.build

    def spy(self):
        net = real_build(self)
        built.append(next(net.parameters()).device.type)
        return net

    monkeypatch.setattr(GeneratorSpec, "build", spy)
    with pytest.raises(CheckpointError, match=message):
        load_generator(path)
    assert set(built) <= {"meta"}  # shapes compared on the meta device: not one byte of weights allocated
    monkeypatch.undo()
    src = tmp_path / "in.png"
    src.write_bytes(png())
    assert main([str(src), "-o", str(tmp_path / "out.png"), "--checkpoint", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_reference_pth_with_absurd_cli_spec_is_refused(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({"model.1.weight": torch.zeros(2, 3, 7, 7)}, str(path))
    with pytest.raises(CheckpointError, match="ngf=100000 is outside"):
        load_generator(path, spec=GeneratorSpec(ngf=100000))


# ---- palettes and cells ---------------------------------------------------------------------------


def test_palette_files_are_capped_and_nearest_colour_search_is_chunked(tmp_path, capsys, monkeypatch):
    big = tmp_path / "big.hex"
    big.write_text("\n".join(f"{i:06x}" for i in range(0, 10_000 * 97, 97)))
    with pytest.raises(PaletteError, match=f"10000 distinct colours; a palette has at most {MAX_COLORS}"):
        load_palette_file(big)
    huge = tmp_path / "huge.gpl"
    huge.write_bytes(b"GIMP Palette\n" + b"0 0 0 black\n" * 200_000)
    with pytest.raises(PaletteError, match="palette files are at most"):
        load_palette_file(huge)
    src = tmp_path / "in.png"
    src.write_bytes(png())
    assert main([str(src), "-o", str(tmp_path / "out.png"), "--palette", str(big)]) == 2
    assert "at most 256" in capsys.readouterr().err
    import inference.palette as palette_mod

    chunks = []
    real = palette_mod.nearest
    monkeypatch.setattr(palette_mod, "nearest", lambda p, c, chunk: chunks.append((chunk, len(c))) or real(p, c, chunk))
    rng = np.random.default_rng(0)
    pal = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    pixels = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    mapped = map_to_palette(pixels, pal)
    assert chunks and all(chunk * n <= 1 << 22 for chunk, n in chunks)
    assert {tuple(c) for c in mapped.reshape(-1, 3)} <= {tuple(c) for c in pal}
    assert np.array_equal(nearest_color(np.zeros((3, 3)), np.zeros((1, 3))), [0, 0, 0])


def test_cell_size_is_limited_and_memory_does_not_grow_with_it(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(png((64, 48)))
    assert main([str(src), "-o", str(tmp_path / "out.png"), "--cell-size", "40000"]) == 2
    assert "--cell-size 40000: must be between 1 and 1024" in capsys.readouterr().err
    tracemalloc.start()
    try:
        out = expand_cells(np.zeros((1, 1, 3), np.uint8), 4096, (64, 48))
        rgb = np.zeros((48, 64, 3), np.uint8)
        colors, opaque = cell_means(rgb, 4096, np.full((48, 64), 255, np.uint8))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (48, 64, 3) and colors.shape == (1, 1, 3) and opaque.all()
    assert peak < 2_000_000, peak  # repeating/padding to 4096x4096 took 50-200 MB
    assert main([str(src), "-o", str(tmp_path / "one.png"), "--cell-size", "1024", "-q"]) == 0
    assert len(Image.open(tmp_path / "one.png").getcolors()) == 1  # one cell covers the picture


# ---- URLs -----------------------------------------------------------------------------------------


class _Dripper:
    """A raw socket server that sends its answer one byte every ``gap`` seconds (headers too, if asked)."""

    def __init__(self, body: bytes, gap: float = 0.1, drip_headers: bool = False) -> None:
        self.head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        self.body, self.gap, self.drip_headers = body, gap, drip_headers
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/x.png"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.recv(65536)
        try:
            if not self.drip_headers:
                conn.sendall(self.head)
            for byte in (self.head if self.drip_headers else b"") + self.body:
                if self.stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.gap)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("drip_headers", [False, True])
def test_url_timeout_bounds_the_whole_download(drip_headers):
    server = _Dripper(png((8, 8)), gap=0.05, drip_headers=drip_headers)  # ~150 bytes: 8+ s in all
    try:
        start = time.perf_counter()
        with pytest.raises(InputError, match="did not (finish|answer) within 1 s") as err:
            fetch_url(server.url, timeout=1.0)
        assert err.value.reason == "timeout"
        assert time.perf_counter() - start < 2.5
    finally:
        server.close()


def test_a_single_url_respects_the_output_name(http_server, tmp_path, capsys):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    http_server.route("/g", lambda h: Response(body=buf.getvalue(), content_type="image/gif"))
    url = f"{http_server.url}/g"
    assert main([url, "-o", str(tmp_path / "g.png"), "-q"]) == 1
    assert "name the output g.gif" in capsys.readouterr().err and not (tmp_path / "g.png").exists()
    assert main([url, "-o", str(tmp_path / "g.gif"), "-q"]) == 0
    assert Image.open(tmp_path / "g.gif").n_frames == 2
    local = tmp_path / "anim.gif"
    local.write_bytes(buf.getvalue())
    assert main([str(local), "-o", str(tmp_path / "anim.png"), "-q"]) == 2  # the same rule for a local file


# ---- file names, full disks, batches --------------------------------------------------------------


def test_preview_handles_file_names_that_are_not_utf8(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9-\xff.png")
    try:
        (folder / name).write_bytes(png())
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    out = tmp_path / "out"
    assert main([str(folder), "-o", str(out), "--preview", "-q"]) == 0
    page = (out / "index.html").read_bytes().decode("utf-8")  # valid UTF-8
    assert "caf%E9-%FF.png" in page and "caf\ufffd-\ufffd.png" in page
    assert (out / name).exists()


def test_a_full_disk_leaves_no_part_file_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.png").write_bytes(png(seed=i))
    real = Path.write_bytes
    calls = []

    def full(self, data):
        calls.append(self)
        if len(calls) == 2:  # the second output hits a full disk half-way
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "out"
    assert main([str(folder), "-o", str(out), "-q"]) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "No space left on device" in err and "2 written" in err
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p2.png"]  # no .part, no half file


def test_hostile_batch_lists_each_failure_and_keeps_the_good_files(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes(png())
    (folder / "bomb.gif").write_bytes(gif([(0, 0, 1, 1)] + [(7999, 7999, 1, 1)] * 3))
    (folder / "cut.png").write_bytes(png()[:60])
    (folder / "zero.png").write_bytes(b"")
    out = tmp_path / "out"
    assert main([str(folder), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "1 written" in err and "3 failed" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["good.png"]


def test_input_folder_that_is_the_output_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(png())
    assert main([str(folder), "-o", str(folder)]) == 2
    assert "would be read back" in capsys.readouterr().err
    assert main([str(folder / "sub"), str(folder), "-o", str(folder / "out"), "-q"]) == 1  # output inside input: fine
    assert (folder / "out" / "a.png").exists()
