"""The page: a Gradio Blocks app over :mod:`webapp.jobs` (no image logic here, only wiring).

Its API endpoint ``/pixelate`` takes the picture first and every setting after it, each with a
default, and returns the result image; the details the page shows next to it (display scale,
before/after, swatches, downloads) come from a second, private step over the same job.
"""

from __future__ import annotations

import html
import inspect
import logging
from collections.abc import Callable
from dataclasses import fields

import gradio as gr

from inference.dither import METHODS
from inference.palette import NAMED_PALETTES
from inference.postprocess import MAX_ANCHOR_SIGMA
from inference.views import AUTO
from webapp.jobs import ANIMATION_SUFFIXES, JobFiles, StillResult, run_animation, run_preview, run_still
from webapp.models import Models
from webapp.settings import FITTED, PALETTE_FILE, WEB_MAX_MARGIN, JobError, Limits, Settings

log = logging.getLogger(__name__)

#: Crisp pixels wherever pixel art is shown; the scaled view keeps its natural size and scrolls.
CSS = """
#view img, #result img, #compare img, #animation img, #animation-video video, .swatch { image-rendering: pixelated; }
#view img { max-width: none !important; max-height: none !important; width: auto !important; height: auto !important;
  object-fit: none !important; }
#view .image-container, #view .image-frame { overflow: auto; max-height: 70vh; justify-content: flex-start; }
#animation img, #animation-video video { height: 360px !important; width: auto; max-width: 100%; object-fit: contain; }
.swatches { display: flex; flex-wrap: wrap; gap: 4px; }
.swatch { width: 28px; height: 28px; border: 1px solid #8888; border-radius: 3px; }
.swatch.unused { opacity: 0.25; }
"""

BUTTONS = ["download", "fullscreen"]  # no "share": it would upload to the Hugging Face Hub
INTRO = """# pixelate
Turn a picture into pixel art: every cell one colour, a small palette, optional dithering.
Change a setting to see a quick preview; **Pixelate** makes the full-size result and its downloads.
"""


def raw_upload(image: gr.Image) -> gr.Image:
    """Make ``image`` (upload, paste, webcam) hand over the uploaded file untouched.

    Gradio's own preprocessing opens the file with Pillow before the job sees it, so a
    decompression bomb or a non-image would fail there with Gradio's message; this way every
    upload is decoded once, by :func:`webapp.jobs.load_picture`, under the app's limits.
    (An instance attribute, not a subclass: Gradio writes a ``.pyi`` stub beside any module
    that subclasses a component.)
    """
    stock = image.preprocess

    def preprocess(payload):  # noqa: ANN001, ANN202 - Gradio's ImageData
        if payload is None or payload.path is None:
            return stock(payload)  # webcam snapshots may arrive as data: URLs
        return str(payload.path)

    image.preprocess = preprocess
    return image


def api_signature(defaults: Settings, first: str, **after: object) -> Callable[[Callable], Callable]:
    """Show ``fn(first, *values)`` to Gradio, which names an endpoint's parameters from the signature, as taking ``first``
    and then every setting by name with its default (:class:`Settings`' fields, in order), then ``after``'s. One list,
    so the API, the page's controls and ``pixelate``'s flags cannot drift apart."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(first, kind)]
    params += [inspect.Parameter(f.name, kind, default=getattr(defaults, f.name)) for f in fields(Settings)]
    params += [inspect.Parameter(name, kind, default=value) for name, value in after.items()]

    def sign(fn: Callable) -> Callable:
        fn.__signature__ = inspect.Signature(params, return_annotation=inspect.signature(fn).return_annotation)
        return fn

    return sign


def _fail(exc: Exception) -> gr.Error:
    if isinstance(exc, JobError):
        return gr.Error(str(exc), title="Cannot pixelate this", print_exception=False)
    log.exception("pixelate job failed")
    return gr.Error(f"Something went wrong: {type(exc).__name__}: {exc}", title="Error")


def swatches_html(palette: list[str], used: list[str]) -> str:
    """The palette as colour swatches; entries of a fixed palette that the result does not use are faded."""
    cells = "".join(
        f'<span class="swatch{"" if c in used else " unused"}" style="background:{c}" title="{c}"></span>' for c in palette
    )
    label = f"{len(used)} colours used" + (f" of a {len(palette)}-colour palette" if len(palette) != len(used) else "")
    return f'<div class="swatches">{cells}</div><p>{html.escape(label)}: {html.escape(" ".join(used))}</p>'


def build_app(models: Models | None = None, limits: Limits | None = None, files: JobFiles | None = None) -> gr.Blocks:
    """The Blocks app; :func:`webapp.serve.launch` starts it with the page's CSS and the upload limit."""
    models = models or Models()
    limits = limits or Limits()
    files = files or JobFiles()
    defaults = Settings()

    def settings_of(*values: object) -> Settings:
        """The controls' values, in the order of :class:`Settings`' fields, as a Settings (Gradio hands over floats)."""
        kinds = {"int": int, "float": float, "bool": bool, "str": str}
        return Settings(*(kinds[f.type](v) if f.type in kinds and v is not None else v for f, v in zip(fields(Settings), values)))

    @api_signature(defaults, "picture")
    def pixelate(picture: str | None, *values: object) -> tuple[str, StillResult]:
        """Pixel art from a picture: the PNG `pixelate` writes for the same settings."""
        try:
            result = run_still(picture, settings_of(*values), models, limits, files)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
            raise _fail(exc) from exc
        return str(result.result), result  # the second goes to a gr.State, which the API leaves out

    def details(picture: str | None, result: StillResult) -> tuple:
        downloads = [str(result.native), str(result.display)] + ([str(result.blocks)] if result.blocks != result.native else [])
        status = f"{result.summary}\n\nSame as: `{result.command}`"
        shown = gr.Tabs(selected="pixel-art")
        return str(result.display), (picture, str(result.blocks)), swatches_html(result.palette, result.used), downloads, status, shown

    def live(picture: str | None, *values: object) -> tuple:
        if not picture:
            return None, "Upload a picture to start.", "", None
        try:
            image, note = run_preview(picture, settings_of(*values), models, limits)
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc) from exc
        return image, note, "", None  # the last full result's swatches and downloads no longer apply

    @api_signature(defaults, "clip", progress=gr.Progress())
    def animate(clip: str | None, *values: object) -> tuple:
        """Pixel art from a GIF (a GIF comes back) or a short video (an MP4 comes back), one palette for all frames."""
        *values, progress = values  # Gradio hands its progress tracker over last, where the signature has it
        frames = [0]

        def tick(n: int) -> None:
            frames[0] += n
            progress((frames[0], None), unit="frames")

        try:
            done = run_animation(clip, settings_of(*values), models, limits, files, tick)
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc) from exc
        path = str(done.path)
        gif, video = (None, path) if done.is_video else (path, None)
        return gif, video, [path], done.summary, swatches_html(done.palette, done.palette), gr.Tabs(selected="animation")

    def animation_players(gif: str | None, video: str | None) -> tuple:
        return gr.update(visible=gif is not None or video is None), gr.update(visible=video is not None)

    def palette_controls(palette: str) -> tuple:
        return gr.update(visible=palette == FITTED), gr.update(visible=palette == PALETTE_FILE)

    with gr.Blocks(title="pixelate", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO + "\n" + limits.describe())
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                with gr.Tab("Picture"):
                    picture = raw_upload(
                        gr.Image(
                            label="Picture (upload, paste or webcam)",
                            type="filepath",
                            sources=["upload", "clipboard", "webcam"],
                            elem_id="picture",
                        )
                    )
                    go = gr.Button("Pixelate", variant="primary", elem_id="pixelate")
                with gr.Tab("GIF or video"):
                    clip = gr.File(label="GIF or short video", file_types=sorted(ANIMATION_SUFFIXES), type="filepath", elem_id="clip")
                    go_clip = gr.Button("Pixelate animation", variant="primary", elem_id="pixelate-animation")
                model = gr.Dropdown(models.choices(), value=models.default, label="Model")
                cell_size = gr.Slider(1, 64, value=defaults.cell_size, step=1, label="Cell size (pixels per cell side)")
                palette_choices = [("fitted: k colours", FITTED)] + [(n, n) for n in sorted(NAMED_PALETTES)]
                palette = gr.Dropdown(palette_choices + [("from a .gpl / .hex file", PALETTE_FILE)], value=FITTED, label="Palette")
                colors = gr.Slider(2, 64, value=defaults.colors, step=1, label="k colours")
                palette_file = gr.File(label="Palette file (.gpl, .hex)", file_types=[".gpl", ".hex", ".txt"], type="filepath", visible=False)
                dither = gr.Radio(list(METHODS), value=defaults.dither, label="Dithering")
                native = gr.Checkbox(value=defaults.native, label="Native: one pixel per cell (pixel-art input, sprites)")
                scale = gr.Slider(1, 32, value=defaults.scale, step=1, label="Display scale (screen pixels per cell)")
                with gr.Accordion("Model options (the classical method ignores them)",
                                  open=False, elem_id="model-options"):
                    hold_lines = gr.Checkbox(value=defaults.hold_lines, elem_id="hold-lines",
                                             label="Hold thin lines: eyes and outlines as bold as the classical method's")
                    keep_highlights = gr.Checkbox(value=defaults.keep_highlights, elem_id="keep-highlights",
                                                  label="Keep highlights: thin light lines (teeth, glints, rims) the model "
                                                        "drew over come back as the classical method draws them")
                    views = gr.Dropdown([("auto", AUTO), 1, 2, 4, 8], value=defaults.views, elem_id="views",
                                        label="Views: drawn this many ways (mirrored, flipped, turned) and averaged; as many "
                                              "times the work. auto: as many as one pass over a 1024² picture costs (8 for a sprite)")
                    keep_features = gr.Dropdown([("as the model records", "recorded"), ("on", "on"), ("off", "off")],
                                                value=defaults.keep_features, elem_id="keep-features",
                                                label="Keep shown features (models shown feature cells): a feature cell drawn "
                                                      "paler than the model was shown it takes the shown colour")
                    palette_from = gr.Radio([("the model's drawing", "output"), ("the picture", "picture")],
                                            value=defaults.palette_from, elem_id="palette-from",
                                            label="Fit the k colours on: the drawing keeps the model's own outline and shading "
                                                  "colours; the picture keeps its colours and loses those the picture lacks")
                    anchor_colors = gr.Slider(0, MAX_ANCHOR_SIGMA / 4, value=defaults.anchor_colors, step=0.5,
                                              elem_id="anchor-colors",
                                              label="Anchor colours (cells): the picture's colours above this scale, the model's "
                                                    "drawing below it; 0 = the model's own colours, casts included")
                    settle_flats = gr.Slider(0, 20, value=defaults.settle_flats, step=0.5, elem_id="settle-flats",
                                             label="Settle flats (OKLab x100): the model's faint mottle averaged out where "
                                                   "the picture is this flat; 0 = off")
                    margin = gr.Slider(0, WEB_MAX_MARGIN, value=defaults.margin, step=1, elem_id="margin",
                                       label="Margin (generator pixels): white shown round the picture, as the model saw "
                                             "figures on white in training; 0 = none")
            with gr.Column(scale=3):
                status = gr.Markdown("Upload a picture to start.", elem_id="status")
                with gr.Tabs() as shown:
                    with gr.Tab("Pixel art", id="pixel-art"):
                        view = gr.Image(label="Pixel art at display scale", buttons=BUTTONS, interactive=False, format="png", elem_id="view")
                    with gr.Tab("Before / after", id="compare"):
                        compare = gr.ImageSlider(
                            label="Before / after", type="filepath", format="png", buttons=BUTTONS, interactive=False, elem_id="compare"
                        )
                    with gr.Tab("Animation", id="animation"):
                        animation = gr.Image(label="Animated GIF", buttons=BUTTONS, interactive=False, elem_id="animation")
                        animation_video = gr.Video(label="Video", interactive=False, visible=False, elem_id="animation-video")
                    with gr.Tab("As `pixelate` writes it", id="result"):
                        result = gr.Image(label="Result (the API's answer)", buttons=BUTTONS, interactive=False, format="png", elem_id="result")
                swatches = gr.HTML(elem_id="swatches")
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
        job = gr.State()
        settings = [model, cell_size, palette, colors, palette_file, dither, native, scale, hold_lines, views, keep_features,
                    keep_highlights, palette_from, anchor_colors, settle_flats, margin]  # Settings' fields, in order
        concurrency = {"concurrency_limit": limits.concurrency, "concurrency_id": "jobs"}

        go.click(pixelate, [picture, *settings], [result, job], api_name="pixelate", **concurrency).success(
            details, [picture, job], [view, compare, swatches, downloads, status, shown], api_visibility="private", queue=False
        )
        go_clip.click(
            animate, [clip, *settings], [animation, animation_video, downloads, status, swatches, shown], api_name="pixelate_animation", **concurrency
        ).success(animation_players, [animation, animation_video], [animation, animation_video], api_visibility="private", queue=False)
        gr.on(
            [picture.change] + [c.change for c in settings],
            live,
            [picture, *settings],
            [view, status, swatches, downloads],
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="minimal",
            concurrency_limit=limits.concurrency,
            concurrency_id="preview",
        )
        palette.change(palette_controls, palette, [colors, palette_file], api_visibility="private", queue=False)
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    demo.pixelforge_limits = limits  # read by webapp.serve.launch (the upload limit)
    return demo

