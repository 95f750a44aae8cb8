"""``pixelate serve``: start the web app on this machine (127.0.0.1 and no public link unless asked)."""

from __future__ import annotations

import argparse
import os
import sys

from webapp.models import ModelError, Models
from webapp.settings import Limits


def build_parser() -> argparse.ArgumentParser:
    limits = Limits()
    p = argparse.ArgumentParser(
        prog="pixelate serve",
        description="Pixelate in the browser: upload a picture, GIF or video, try settings, download the result.",
    )
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port (default 7860)")
    p.add_argument("--checkpoint", action="append", default=[], help="run folder, checkpoint or Hub model (hf://OWNER/NAME) to offer in the model menu (repeatable)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument("--concurrency", type=int, default=limits.concurrency, help=f"jobs run at once; others queue (default {limits.concurrency})")
    p.add_argument("--queue-size", type=int, default=limits.queue_size, help=f"jobs waiting at most (default {limits.queue_size})")
    p.add_argument("--max-upload-mb", type=int, default=limits.upload_mb, help=f"largest upload (default {limits.upload_mb})")
    p.add_argument("--max-megapixels", type=float, default=limits.max_pixels / 1e6, help="largest picture or frame (default 16)")
    p.add_argument("--max-frames", type=int, default=limits.max_frames, help=f"longest GIF or video (default {limits.max_frames})")
    p.add_argument("--time-limit", type=float, default=limits.time_s, help=f"seconds a GIF or video job may run, checked per frame (default {limits.time_s:g})")
    return p


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        upload_mb=args.max_upload_mb,
        max_pixels=int(args.max_megapixels * 1e6),
        max_frames=args.max_frames,
        time_s=args.time_limit,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
    )


def launch(demo, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, block: bool = True):  # noqa: ANN001, ANN201
    """Start ``demo`` (from :func:`webapp.ui.build_app`); ``block=False`` returns at once (tests)."""
    import gradio as gr

    from webapp.ui import CSS

    limits: Limits = getattr(demo, "pixelforge_limits", Limits())
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=f"{limits.upload_mb}mb",
        prevent_thread_lock=not block,
        ssr_mode=False,  # no Node server: the page is the prebuilt bundle Gradio ships
        footer_links=["api"],
        theme=gr.themes.Default(),  # its fonts ship with Gradio; nothing is fetched from a CDN
        css=CSS,
        quiet=not block,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from webapp.ui import build_app
    except ImportError as exc:
        print(f"pixelate serve: needs the web app extra: pip install 'pixelforge[app]' ({exc})", file=sys.stderr)
        return 2
    models = Models(args.checkpoint)
    try:
        models.load_all()
    except ModelError as exc:
        print(f"pixelate serve: error: {exc}", file=sys.stderr)
        return 2
    launch(build_app(models, limits_from(args)), args.host, args.port, share=args.share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
