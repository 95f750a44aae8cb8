"""Turn pictures into pixel art: ``from inference import Pixelator``.

``Pixelator.from_checkpoint(path).pixelate(image)`` runs a trained CycleGAN generator;
``Pixelator.classic().pixelate(image)`` the no-ML method. Both enforce the same rules (one colour
per cell, a small OKLab palette, optional dithering, binary alpha) with the CLI's defaults.
"""

from inference.pixelator import ModelOptions, Pixelator
from inference.postprocess import PixelArtOptions

__all__ = ["ModelOptions", "PixelArtOptions", "Pixelator"]
