"""Non-blind SR backends: ``get_backend(name).upscale(lr, kernel, scale)``; see ``base`` for the protocol."""

from . import bicubic, srmd, zssr  # noqa: F401  (registers the built-in backends)
from .base import ENTRY_POINT_GROUP, Backend, available_backends, get_backend, register

__all__ = ["ENTRY_POINT_GROUP", "Backend", "available_backends", "get_backend", "register"]
