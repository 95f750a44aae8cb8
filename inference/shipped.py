"""The model shipped inside the package, and which method ``pixelate`` uses when given no checkpoint.

The weights live in ``inference/models/NAME/`` (fp16 safetensors with their spec in the metadata, and
the model card as README.md). They are trained by ``make model`` from ``training/recipes/``; see
``docs/model.md`` for the data, the recipe and how the model compares with the classical method.

:data:`DEFAULT_METHOD` was "classic" until a shipped model was at least as good as the classical method on
cartoons, on the benchmark's metrics (``benchmarks/quality.py``) and on a blind side-by-side page (stage 80,
2026-12-06: ``docs/model-log.md``); it is now "shipped", so ``pixelate`` without ``--checkpoint`` uses the model
and ``--classic`` selects the classical method.
"""

from __future__ import annotations

from pathlib import Path

#: the model folder inside the package
SHIPPED_NAME = "pixelforge-native-v80"
SHIPPED_DIR = Path(__file__).parent / "models" / SHIPPED_NAME
#: what ``pixelate`` runs without --checkpoint, --classic or --shipped: "classic" or "shipped"
DEFAULT_METHOD = "shipped"


def shipped_weights() -> Path:
    """The shipped generator file (pictures -> pixel art); a clear error if the package lacks it."""
    path = SHIPPED_DIR / "G_A.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"the shipped model is missing from this installation ({path}); reinstall "
                                "pixelforge, or pass --checkpoint or --classic")
    return path


def shipped_card() -> Path:
    """The shipped model's card (Hugging Face model-card format)."""
    return SHIPPED_DIR / "README.md"
