"""The backend protocol and registry of non-blind SR backends.

A backend is a named object with ``upscale(lr, kernel, scale, **options) -> sr``: ``lr`` float32 HxWx3 in
[0, 1], ``kernel`` the x2 blur kernel of ``lr`` (2-D, sums to 1), ``sr`` float32 (scale·H)x(scale·W)x3 in
[0, 1]. Built-in backends register with ``@register``; third-party ones through the entry-point group
``kernelgan.backends`` (the entry point names a backend class or a zero-argument factory). A backend that reads
trained weights names their files with ``weight_files(scale, **options) -> list[Path]`` (optional), so that saved
results made with other weights are not taken for current ones. A backend that can use blur changing across the
photo sets ``kernel_maps = True`` and then also takes a kernel map (rows x cols x K x K, ``kernel_map``) as
``kernel``; the others are refused one with a one-line error (``check_request``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..errors import InputError

ENTRY_POINT_GROUP = "kernelgan.backends"


@runtime_checkable
class Backend(Protocol):
    name: str
    scales: tuple[int, ...]
    description: str

    def upscale(self, lr: np.ndarray, kernel: np.ndarray, scale: int, **options: Any) -> np.ndarray: ...


_BUILTIN: dict[str, Callable[[], Backend]] = {}

BackendClass = TypeVar("BackendClass", bound=type)


def register(cls: BackendClass) -> BackendClass:
    """Class decorator for built-in backends (the class's ``name`` is its registry key; registered once)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str):
        raise ValueError(f"{cls!r} has no name")
    if name in _BUILTIN:
        raise ValueError(f"an SR backend named {name!r} is already registered")
    _BUILTIN[name] = cls
    return cls


def _plugins() -> dict[str, Callable[[], Backend]]:
    found: dict[str, Callable[[], Backend]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load
    return found


def available_backends() -> dict[str, str]:
    """Backend name -> where it comes from ('built-in' or the entry point's value)."""
    names = {name: "built-in" for name in _BUILTIN}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(ep.name, ep.value)
    return dict(sorted(names.items()))


def get_backend(name: str) -> Backend:
    """Instantiate backend ``name`` (built-in first, then entry points); InputError if unknown or broken."""
    if name in _BUILTIN:
        return _BUILTIN[name]()
    plugins = _plugins()
    if name not in plugins:
        raise InputError(f"unknown SR backend {name!r} (installed: {', '.join(available_backends())})")
    try:
        obj = plugins[name]()
        backend = obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "upscale")) else obj
    except Exception as exc:
        raise InputError(f"SR backend {name!r} failed to load: {exc}") from None
    if not isinstance(backend, Backend):
        raise InputError(f"SR backend {name!r} does not provide name, scales and upscale()")
    return backend


def weight_files(backend: Backend, scale: int, options: dict[str, Any]) -> list[Path]:
    """The weights files ``backend`` reads at ``scale`` with ``options`` (none for a backend that declares none)."""
    declared = getattr(backend, "weight_files", None)
    return [Path(p) for p in declared(scale, **options)] if declared is not None else []


RUNTIME_OPTIONS = ("seed", "device", "progress")  # given by the caller to every backend, never by the user


def check_options(backend: Backend, options: dict[str, Any]) -> dict[str, Any]:
    """The user's options for ``backend``, typed: a backend that declares ``options`` (name -> type) refuses
    any other name with a one-line InputError and has string values (``--opt KEY=VALUE``) converted; a plugin
    without that declaration gets its options unchecked."""
    declared: dict[str, type] | None = getattr(backend, "options", None)
    if declared is None:
        return dict(options)
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if key in RUNTIME_OPTIONS:
            checked[key] = value
            continue
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InputError(f"backend {backend.name} has no option {key!r} (its options: {known})")
        kind = declared[key]
        if isinstance(value, str) and kind is not str:
            try:
                value = value.lower() in ("1", "true", "yes", "on") if kind is bool else kind(value)
            except ValueError:
                raise InputError(f"backend {backend.name}: option {key}={value!r} is not a {kind.__name__}") from None
        checked[key] = value
    return checked


def takes_maps(backend: Backend) -> bool:
    """Whether ``backend.upscale`` also takes a kernel map (rows x cols x K x K, ``kernel_map``) for ``kernel``:
    a backend says so with ``kernel_maps = True``."""
    return bool(getattr(backend, "kernel_maps", False))


def check_request(backend: Backend, lr: np.ndarray, kernel: np.ndarray, scale: int) -> None:
    if np.ndim(kernel) == 4 and not takes_maps(backend):
        raise InputError(f"backend {backend.name} takes one kernel, not a kernel map (blur that changes across the "
                         "photo); use --backend srmd, or give one kernel")
    if scale not in backend.scales:
        raise InputError(f"backend {backend.name} supports x{', x'.join(map(str, backend.scales))}, not x{scale}")
    if lr.ndim != 3 or lr.shape[2] != 3:
        raise InputError(f"expected an HxWx3 image, got shape {lr.shape}")
