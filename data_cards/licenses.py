"""The licence mapping moved to the kernel (:mod:`pixelforge.licenses`): model cards need it too."""

from pixelforge.licenses import HUB_LICENSE_IDS, hub_license_id, is_unknown

__all__ = ["HUB_LICENSE_IDS", "hub_license_id", "is_unknown"]
