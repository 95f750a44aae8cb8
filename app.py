"""Hugging Face Space entry point: the same app as ``pixelate serve`` (see docs/web-app.md).

A Space runs ``python app.py``; ``PIXELATE_CHECKPOINT`` (a run folder in the Space) adds a
model to the menu. Gradio's reload mode (``gradio app.py``) finds ``demo`` here.
"""

import os

from webapp.models import Models
from webapp.serve import launch
from webapp.ui import build_app

models = Models([p for p in os.environ.get("PIXELATE_CHECKPOINT", "").split(os.pathsep) if p])
models.load_all()  # a bad checkpoint stops the Space at start, with the reason in its log
demo = build_app(models)

if __name__ == "__main__":
    launch(demo, os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
