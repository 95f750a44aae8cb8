"""Animated GIFs and videos: shared palette and grid, frame timing, transparency, audio."""

from __future__ import annotations

import fractions
import io

import av
import numpy as np
from PIL import Image

from inference.cli import main
from inference.grid import cell_purity
from inference.pixelator import Pixelator
from inference.video import pixelate_gif, pixelate_video


def frame_rgb(i: int, w: int, h: int) -> np.ndarray:
    """A moving gradient: every frame differs, so no encoder can merge frames."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 4 + i * 23) % 256, (y * 5 + i * 7) % 256, np.full_like(x, 60 + 10 * i)], -1).astype(np.uint8)


def make_gif(n=5, w=60, h=40) -> bytes:
    frames = []
    for i in range(n):
        rgba = np.dstack([frame_rgb(i, w, h), np.full((h, w), 255, np.uint8)])
        rgba[:12, :12, 3] = 0  # a transparent corner
        frames.append(Image.fromarray(rgba, "RGBA"))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=[40, 60, 80, 100, 120][:n], loop=3, disposal=2)
    return buf.getvalue()


def make_video(path, n=12, w=64, h=48, fps=10, audio=True):
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        astream = out.add_stream("aac", rate=8000) if audio else None
        if astream is not None:
            astream.layout = "mono"
        for i in range(n):
            f = av.VideoFrame.from_ndarray(frame_rgb(i, w, h), format="rgb24")
            f.pts, f.time_base = i, fractions.Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if astream is not None:
            t = np.arange(int(8000 * n / fps)) / 8000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for s in range(0, samples.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, s : s + 1024]), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 8000, s, fractions.Fraction(1, 8000)
                for p in astream.encode(af):
                    out.mux(p)
            for p in astream.encode():
                out.mux(p)


def gif_frames(path):
    im = Image.open(path)
    out = []
    for i in range(im.n_frames):
        im.seek(i)
        out.append((np.asarray(im.convert("RGBA")), im.info.get("duration")))
    return out, im.info.get("loop")


def test_gif_keeps_timing_loop_transparency_and_one_palette(tmp_path):
    dst = tmp_path / "out.gif"
    result = pixelate_gif(make_gif(), dst, Pixelator.classic(palette="8"), max_pixels=10**7)
    frames, loop = gif_frames(dst)
    assert result.frames == len(frames) == 5
    assert [d for _, d in frames] == [40, 60, 80, 100, 120] and loop == 3
    colours = set()
    for arr, _ in frames:
        assert arr.shape == (40, 60, 4)
        assert cell_purity(arr, 4) == 1.0
        assert set(np.unique(arr[..., 3]).tolist()) == {0, 255}
        assert (arr[:12, :12, 3] == 0).all()
        colours |= {tuple(c) for c in arr[arr[..., 3] == 255][:, :3].tolist()}
    # one palette for the whole animation (no per-frame refit, so no flicker)
    assert colours <= {tuple(c) for c in result.palette.tolist()} and len(result.palette) <= 8


def test_video_keeps_frames_timestamps_audio_and_pure_cells(tmp_path):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src)
    result = pixelate_video(src, dst, Pixelator.classic(), max_pixels=10**7)
    assert result.frames == 12 and result.audio == "copied"
    with av.open(str(src)) as c:
        in_pts = [f.pts for f in c.decode(video=0)]
    with av.open(str(dst)) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        assert c.streams.audio[0].codec_context.name == "aac"
        frames = list(c.decode(video=0))
    assert [f.pts for f in frames] == in_pts
    colours = set()
    for f in frames:
        arr = f.to_ndarray(format="rgb24")
        assert arr.shape == (48, 64, 3)
        assert cell_purity(arr, 4) == 1.0  # lossless by default: cells survive encoding
        colours |= {tuple(c) for c in arr.reshape(-1, 3).tolist()}
    assert len(colours) <= 16  # one palette across all frames


def test_video_without_audio_native_and_cli(tmp_path, capsys):
    src = tmp_path / "clip.mp4"
    make_video(src, n=6, audio=False)
    gif = tmp_path / "anim.gif"
    gif.write_bytes(make_gif(3))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    rc = main([str(src), str(gif), str(broken), "-o", str(tmp_path / "out"), "--native", "--palette", "gameboy", "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "2 written" in err and "broken.mp4" in err
    with av.open(str(tmp_path / "out" / "clip.mp4")) as c:
        assert not c.streams.audio
        frames = list(c.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (16, 12)
    frames_out, _ = gif_frames(tmp_path / "out" / "anim.gif")
    assert len(frames_out) == 3 and frames_out[0][0].shape[:2] == (10, 15)


def test_lossy_video_option(tmp_path):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, n=4, audio=False)
    pixelate_video(src, dst, Pixelator.classic(), max_pixels=10**7, crf=18)
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert len(list(c.decode(video=0))) == 4


def test_model_path_video_is_batched_and_keeps_every_frame(tmp_path):
    import torch

    from pixelforge.model.networks import GeneratorSpec, init_weights

    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    px = Pixelator(init_weights(spec.build()).eval(), spec)
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, n=6)
    result = pixelate_video(src, dst, px, max_pixels=10**7)
    assert result.frames == 6 and result.audio == "copied"
    frames = [Image.fromarray(frame_rgb(i, 64, 48)) for i in range(3)]
    # batching changes nothing: three frames together equal three frames one by one
    together = px.pixelate_many(frames, result.palette)
    for img, batched in zip(frames, together):
        assert np.array_equal(np.asarray(px.pixelate(img, result.palette)), np.asarray(batched))
    with av.open(str(dst)) as c:
        assert len(list(c.decode(video=0))) == 6


def test_stills_work_without_pyav_and_videos_say_what_is_missing(tmp_path, monkeypatch, capsys):
    import sys

    src = tmp_path / "clip.mp4"
    make_video(src, n=2, audio=False)
    Image.fromarray(frame_rgb(0, 20, 12)).save(tmp_path / "still.png")
    monkeypatch.setitem(sys.modules, "av", None)  # as if the `video` extra were not installed
    rc = main([str(tmp_path / "still.png"), str(src), "-o", str(tmp_path / "out"), "-q"])
    assert rc == 1 and (tmp_path / "out" / "still.png").is_file()
    assert "pixelforge[video]" in capsys.readouterr().err


def test_a_model_gif_takes_its_shared_palette_from_the_frames_pictures(tmp_path):
    import torch

    from pixelforge.model.networks import GeneratorSpec, init_weights

    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    frames = []
    for i in range(3):  # red and blue cells, a different layout per frame
        blocks = np.random.default_rng(i).integers(0, 2, (10, 15)).astype(bool).repeat(4, 0).repeat(4, 1)
        rgb = np.where(blocks[..., None], np.uint8([200, 30, 40]), np.uint8([30, 60, 190])).astype(np.uint8)
        frames.append(Image.fromarray(rgb))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    for source in ("picture", "output"):
        px = Pixelator(init_weights(spec.build()).eval(), spec).with_options(palette="2", palette_from=source)
        result = pixelate_gif(buf.getvalue(), tmp_path / f"{source}.gif", px, max_pixels=10**7)
        colours = {tuple(int(v) for v in c) for c in np.round(result.palette)}
        assert (colours == {(200, 30, 40), (30, 60, 190)}) == (source == "picture"), (source, colours)


def test_a_long_gif_fits_its_palette_on_the_sampled_frames_only(tmp_path):
    from inference.postprocess import palette_for
    from inference.video import PALETTE_SAMPLES, _sample_indices

    n = 40
    frames = [Image.fromarray(frame_rgb(i, 32, 24)) for i in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    px = Pixelator.classic(palette="8")
    seen = []
    original = px.palette_cells

    def counting(img, cells=None):
        seen.append(cells)
        return original(img, cells)

    px.palette_cells = counting
    result = pixelate_gif(buf.getvalue(), tmp_path / "long.gif", px, max_pixels=10**7)
    assert result.frames == n and len(seen) == PALETTE_SAMPLES  # not one classical pass per frame
    decoded = _frames_of(buf.getvalue())
    expected = palette_for([original(decoded[i]) for i in _sample_indices(n)], px.options)
    np.testing.assert_allclose(result.palette, expected)


def _frames_of(data: bytes) -> list[Image.Image]:
    from pixelforge.decoding import iter_frames

    return [d.image.convert("RGBA") for d in iter_frames(data)]


def test_auto_views_draw_each_frame_of_an_animation_once(tmp_path):
    """auto's budget is one picture's time: an animation's frames are drawn once; --views N is kept."""
    import torch

    from inference.model_options import ModelOptions
    from pixelforge.model.networks import GeneratorSpec, init_weights

    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    net = init_weights(spec.build()).eval()
    frames = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 40, 3), dtype=np.uint8)) for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = {}
    for views in (0, 1, 8):
        px = Pixelator(net, spec, model=ModelOptions(views=views, engine="torch"))
        pixelate_gif(buf.getvalue(), tmp_path / f"{views}.gif", px, max_pixels=10**7)
        out[views] = (tmp_path / f"{views}.gif").read_bytes()
    assert out[0] == out[1] and out[8] != out[1]
