"""The pixelate web app: ``pixelate serve`` locally, or ``app.py`` as a Hugging Face Space.

Importing this package turns off what would reach the internet from Gradio (usage analytics,
Hub telemetry) before Gradio itself is imported, so the app works on a machine without a
network; the page's fonts and scripts are served by the app itself.
"""

import os

OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}
for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)
