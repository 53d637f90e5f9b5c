"""Files of the project's small trained networks (the kernel prior, its confidence, the realism detector, ZSSR's
learned start): a format tag, the network's shape, its state and the settings that made it, written atomically."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

import torch
from torch import nn

from .errors import InputError
from .io import atomic_path


def save_network_file(path: Path, fmt: str, shape: dict[str, Any], state: dict[str, torch.Tensor],
                      settings: dict[str, Any]) -> None:
    """Write a small network's file (atomically): its ``fmt`` tag, shape, state and the settings that made it."""
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, "shape": shape, "state": state, "settings": settings}, tmp)


def load_network_file(path: Path, fmt: str, what: str) -> dict[str, Any]:
    """The {format, shape, state, settings} of a file ``save_network_file`` wrote with tag ``fmt``; InputError
    ("PATH: not a WHAT file") for anything else."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise InputError(f"{path}: not a {what} file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise InputError(f"{path}: not a {what} file (format {fmt} expected)")
    return data


ShapeT = TypeVar("ShapeT")
NetT = TypeVar("NetT", bound=nn.Module)
WeightsT = TypeVar("WeightsT", bound="NetworkWeights[Any, Any]")


@dataclass
class NetworkWeights(Generic[ShapeT, NetT]):
    """A trained small network: its shape (a frozen dataclass the network is built from), its state and the settings
    that made it. A subclass names its file's format tag (``FORMAT``), what a user calls such a file (``WHAT``, for
    errors), its shape class (``SHAPE``) and its network class (``NET``, built as ``NET(shape)``)."""

    FORMAT: ClassVar[str]
    WHAT: ClassVar[str]
    SHAPE: ClassVar[type]
    NET: ClassVar[type[nn.Module]]

    shape: ShapeT
    state: dict[str, torch.Tensor]
    settings: dict[str, Any]

    @classmethod
    def of(cls: type[WeightsT], net: nn.Module, settings: dict[str, Any]) -> WeightsT:
        """The weights of a trained ``net`` (its ``shape`` and a detached copy of its state) with ``settings``."""
        return cls(net.shape, {k: v.detach().clone() for k, v in net.state_dict().items()}, settings)

    def network(self) -> NetT:
        """The network with these weights, in eval mode, on the CPU."""
        net = self.NET(self.shape)
        net.load_state_dict(self.state)
        return cast(NetT, net.eval())

    def save(self, path: Path) -> None:
        save_network_file(path, self.FORMAT, asdict(cast(Any, self.shape)), self.state, self.settings)

    @classmethod
    def load(cls: type[WeightsT], path: Path) -> WeightsT:
        data = load_network_file(path, cls.FORMAT, cls.WHAT)
        return cls(cls.SHAPE(**data["shape"]), data["state"], data["settings"])

    @classmethod
    def cached_network(cls: type[NetworkWeights[ShapeT, NetT]], path: Path) -> NetT:
        """The network in ``path`` (on the CPU, eval mode), loaded once per process."""
        key = (cls.FORMAT, str(Path(path).resolve()))
        if key not in _NETWORKS:
            _NETWORKS[key] = cls.load(Path(path)).network()
        return cast(NetT, _NETWORKS[key])


_NETWORKS: dict[tuple[str, str], nn.Module] = {}  # NetworkWeights.cached_network's cache
