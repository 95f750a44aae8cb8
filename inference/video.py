"""Animated GIFs and videos: one palette and one grid for every frame, timing and audio kept.

A palette fitted per frame makes colours jump from frame to frame (flicker), so the palette is
fitted once on cells sampled across the whole clip and every frame is mapped onto it. The grid
is anchored to the top-left corner for every frame, and ordered dithering uses a fixed pattern.

GIFs go through Pillow (per-frame durations, loop count and binary transparency are kept).
Videos go through PyAV: frames keep their timestamps; the audio stream is copied untouched when
the output container accepts it ("when simple"), otherwise it is dropped and the result says so.
By default video is written losslessly (H.264 ``crf 0``, or lossless VP9 for ``.webm``), which
keeps every cell one colour; a positive ``crf`` gives smaller files that more players accept
(browsers do not play lossless H.264), at the cost of exact purity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from inference.pixelator import Pixelator
from inference.postprocess import palette_for, render
from inference.views import AUTO
from pixelforge.decoding import DEFAULT_MAX_PIXELS, FrameBudget, ImageDecodeError, iter_frames
from pixelforge.io import atomic_path

#: Frames sampled across a clip to fit its shared palette.
PALETTE_SAMPLES = 16
#: Video frames sent through the generator together (the model path only).
FRAME_BATCH = 4
_CODEC_FOR_SUFFIX = {".webm": "libvpx-vp9"}
DEFAULT_CODEC = "libx264"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class AnimationResult:
    frames: int
    palette: np.ndarray
    audio: str  # "none", "copied", or "dropped (<why>)"
    duration_s: float


def _sample_indices(n: int, k: int = PALETTE_SAMPLES) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# --------------------------------------------------------------------------- GIF


def frames_pixelator(pixelator: Pixelator) -> Pixelator:
    """The pixelator an animation's frames go through: ``--views auto`` draws each frame once, because auto's
    budget is one picture's time and an animation is many pictures; an explicit ``--views N`` is kept."""
    if pixelator.generator is not None and pixelator.model.views == AUTO:
        return pixelator.with_options(views=1)
    return pixelator


def pixelate_gif(
    data: bytes,
    dst: Path,
    pixelator: Pixelator,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_frames: int | None = None,
    budget: FrameBudget | None = None,
    progress: Progress | None = None,
) -> AnimationResult:
    """Pixelate every frame of an animated GIF with one shared palette; write ``dst`` (a GIF).

    Frames are decoded one at a time under ``budget`` (canvas size, frame count and total pixels,
    each checked before the frame is decoded) and reduced to cells at once, so only the small
    cell grids are held. A GIF whose canvas grows between frames gets every frame padded
    (transparent, top-left anchored, as the decoder does) to the largest one.
    """
    pixelator = frames_pixelator(pixelator)
    budget = budget or FrameBudget(max_pixels=max_pixels)
    if max_frames is not None:  # a caller's own job limit (the web app) on top of the decode budget
        budget = replace(budget, max_frames=min(budget.max_frames, max_frames))
    cells, sources, durations, pending = [], [], [], []  # sources: what the shared palette is fitted on
    sampled: set[int] = set()  # the frames it is fitted on, spread over the clip (known from the first header)
    loop = 0

    def flush() -> None:
        batch = pixelator.cells_many(pending)
        first = len(cells)
        cells.extend(batch)
        # only the sampled frames: with palette_from="picture" each source is a classical pass of its own
        sources.extend(pixelator.palette_cells(f, c) for i, (f, c) in enumerate(zip(pending, batch), first) if i in sampled)
        if progress:
            progress(len(pending))
        pending.clear()

    for decoded in iter_frames(data, budget):
        frame = decoded.image
        if not durations:
            loop = frame.info.get("loop", 0)
            sampled.update(_sample_indices(decoded.n_frames))
        durations.append(int(frame.info.get("duration", 100) or 100))
        pending.append(frame.convert("RGBA"))  # Pillow applies each frame's disposal here
        if len(pending) == FRAME_BATCH:
            flush()
    if pending:
        flush()
    palette = palette_for(sources, pixelator.options)
    frames = [render(c, pixelator.options, palette).convert("RGBA") for c in cells]
    width, height = max(f.width for f in frames), max(f.height for f in frames)
    for i, f in enumerate(frames):
        if f.size != (width, height):
            canvas = Image.new("RGBA", (width, height), (255, 255, 255, 0))
            canvas.paste(f, (0, 0))
            frames[i] = canvas
    with atomic_path(dst) as tmp:
        frames[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=loop,
            disposal=2,
            optimize=False,
        )
    return AnimationResult(len(frames), palette, "none", sum(durations) / 1000.0)


# --------------------------------------------------------------------------- video


def _pyav():  # noqa: ANN202 - the module, when installed
    """PyAV, imported on first use: stills and GIFs work without the ``video`` extra."""
    try:
        import av
    except ImportError as exc:
        raise ImageDecodeError("unsupported", "videos need PyAV: pip install 'pixelforge[video]'") from exc
    return av


def _even(n: int) -> int:
    return n + (n % 2)


def pixelate_video(
    src: Path,
    dst: Path,
    pixelator: Pixelator,
    *,
    crf: int = 0,
    max_pixels: int,
    max_frames: int | None = None,
    progress: Progress | None = None,
) -> AnimationResult:
    """Pixelate a video file with PyAV; ``dst``'s suffix picks the container (same as the input's).

    ``max_frames`` refuses a clip whose header announces more frames, and stops one that turns
    out longer while encoding (headers can lie or say nothing).
    """
    av = _pyav()
    pixelator = frames_pixelator(pixelator)
    try:
        probe = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageDecodeError("unreadable", f"not a video PyAV can open: {exc}") from exc
    with probe:
        if not probe.streams.video:
            raise ImageDecodeError("unreadable", "no video stream")
        vs = probe.streams.video[0]
        if vs.codec_context.width * vs.codec_context.height > max_pixels:
            raise ImageDecodeError("too-large", f"{vs.codec_context.width}x{vs.codec_context.height} frames")
        total = vs.frames or 0
        if not total and vs.duration and vs.average_rate:
            total = int(float(vs.duration * vs.time_base) * float(vs.average_rate))
        if max_frames is not None and total > max_frames:
            raise ImageDecodeError("too-long", f"{total} frames, over the {max_frames}-frame limit")
        wanted = set(_sample_indices(total)) if total else set(range(PALETTE_SAMPLES))
        samples = []
        # pass 1: fit the shared palette on frames spread over the clip
        for i, frame in enumerate(probe.decode(vs)):
            if i in wanted:
                samples.append(pixelator.palette_cells(frame.to_image()))
            if total == 0 and i >= PALETTE_SAMPLES:
                break
    if not samples:
        raise ImageDecodeError("unreadable", "the video has no decodable frames")
    palette = palette_for(samples, pixelator.options)
    try:
        with atomic_path(dst) as tmp:  # the suffix stays last: PyAV picks the container by it
            return _encode(src, tmp, pixelator, palette, crf, progress, max_frames)
    except av.error.FFmpegError as exc:
        raise ImageDecodeError("unreadable", f"video decoding or encoding failed: {exc}") from exc


def _encode(
    src: Path,
    dst: Path,
    pixelator: Pixelator,
    palette: np.ndarray,
    crf: int,
    progress: Progress | None,
    max_frames: int | None = None,
) -> AnimationResult:
    """Pass 2: decode, pixelate with the shared palette, encode with the input's timestamps, copy audio."""
    av = _pyav()
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        codec = _CODEC_FOR_SUFFIX.get(dst.suffix.lower(), DEFAULT_CODEC)
        ostream = out.add_stream(codec, rate=vs.average_rate or 25)
        ostream.time_base = vs.time_base
        ostream.codec_context.time_base = vs.time_base
        width, height = vs.codec_context.width, vs.codec_context.height
        if pixelator.options.native:
            cell = pixelator.options.cell_size
            width, height = -(-width // cell), -(-height // cell)
        ostream.width, ostream.height = _even(width), _even(height)
        if codec == DEFAULT_CODEC:
            ostream.pix_fmt = "yuv444p" if crf == 0 else "yuv420p"
            ostream.options = {"crf": str(crf), "preset": "medium"}
        elif crf == 0:
            ostream.pix_fmt = "yuv444p"
            ostream.options = {"lossless": "1"}
        else:
            ostream.pix_fmt = "yuv420p"
            ostream.options = {"crf": str(crf), "b:v": "0"}
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        audio_out, audio = None, "none"
        if audio_in is not None:
            try:
                audio_out = out.add_stream_from_template(audio_in)
                audio = "copied"
            except (ValueError, av.error.FFmpegError) as exc:
                audio = f"dropped ({exc})"
        streams = [vs] + ([audio_in] if audio_out is not None else [])
        frames, last_time = 0, 0.0
        # the model path batches frames through the generator; the classical path gains nothing
        batch = 1 if pixelator.is_classic else FRAME_BATCH
        pending: list = []  # decoded av.VideoFrame objects waiting for one batched pass

        def flush() -> int:
            nonlocal last_time
            images = pixelator.pixelate_many([f.to_image() for f in pending], palette)
            for frame, img in zip(pending, images):
                arr = np.asarray(img.convert("RGB"))
                if arr.shape[:2] != (ostream.height, ostream.width):
                    pad = ((0, ostream.height - arr.shape[0]), (0, ostream.width - arr.shape[1]), (0, 0))
                    arr = np.pad(arr, pad, mode="edge")
                new = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
                new.pts = frame.pts
                new.time_base = frame.time_base
                if frame.time is not None:
                    last_time = max(last_time, float(frame.time))
                for out_packet in ostream.encode(new):
                    out.mux(out_packet)
                if progress:
                    progress(1)
            done = len(pending)
            pending.clear()
            return done

        for packet in inp.demux(*streams):
            if packet.stream.type == "audio":
                if packet.dts is None or audio_out is None:
                    continue
                packet.stream = audio_out
                try:
                    out.mux(packet)
                except av.error.FFmpegError as exc:
                    audio_out, audio = None, f"dropped ({exc})"
                continue
            for frame in packet.decode():
                if max_frames is not None and frames + len(pending) >= max_frames:
                    raise ImageDecodeError("too-long", f"more than {max_frames} frames")
                pending.append(frame)
                if len(pending) >= batch:
                    frames += flush()
        frames += flush()
        for out_packet in ostream.encode():
            out.mux(out_packet)
    if frames == 0:
        raise ImageDecodeError("unreadable", "the video has no decodable frames")
    rate = float(vs.average_rate) if vs.average_rate else 0.0
    duration = last_time + (1.0 / rate if rate else 0.0)
    return AnimationResult(frames, palette, audio, math.floor(duration * 1000) / 1000)
