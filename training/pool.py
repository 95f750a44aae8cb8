"""The reference's image pool: discriminators see a history of 50 past fakes, not only the newest.

The pool owns its random generator, so its choices are part of the saved training state and
a resumed run makes exactly the choices an uninterrupted one would.
"""

from __future__ import annotations

import random
from typing import Any

import torch


class ImagePool:
    """Return each new fake, or (with probability 1/2 once full) swap it for a stored older one."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() > 0.5:
                idx = self.rng.randint(0, self.size - 1)
                out.append(self.images[idx].clone())
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "images": list(self.images), "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [t.to(device) for t in state["images"]]
        self.rng.setstate(state["rng"])
