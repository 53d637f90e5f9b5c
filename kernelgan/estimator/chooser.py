"""The panel's chooser: which member's kernel a photo gets, read from what every member says of its own kernel.

The margin rule (``learned.panel_choice``) compares the members' predicted size errors alone. The chooser reads
more of each member's report (``REPORT``: its predicted size error and that error's sign, its predicted
re-degradation PSNR, how much its views disagree, its kernel's log size and how far that is from the first
member's) and scores the members with one linear map followed by a softmax (multinomial logistic regression).
It is fitted to cases whose true kernels are known (``fit_chooser``: the soft target of each case is the softmax
of the members' actual re-degradation PSNRs over ``temperature`` dB), and the first member gets ``bonus`` on its
score when choosing, so that it keeps the photos where the others are not clearly better.

A fitted chooser is a small JSON file (``ChooserWeights``): the feature means and scales, the weights, the
members it was fitted for (the panel's weights setting, in order) and how it was fitted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io import atomic_path

REPORT = ("predicted_size_error", "size_error_bias", "predicted_redeg_psnr", "view_size_spread", "log_size",
          "log_size_vs_first")
FORMAT = "kernelgan-panel-chooser/1"


def shipped_chooser_path() -> Path:
    """The shipped chooser (``weights/panel_chooser.json``), fitted for the default panel."""
    return Path(str(files("kernelgan.estimator") / "weights" / "panel_chooser.json"))


def member_features(reports: Sequence[Mapping[str, float]], sizes: Sequence[float]) -> np.ndarray:
    """(members x len(REPORT),) float64, flattened member by member: each member's ``REPORT`` read from its
    quality fields (``reports``: ``predicted_size_error``, ``size_error_bias``, ``predicted_redeg_psnr`` (scaled
    by 1/10), ``view_size_spread``; 0 where absent) and its kernel's size (``sizes``, px², > 0)."""
    if len(reports) != len(sizes) or not reports:
        raise ValueError(f"{len(reports)} reports for {len(sizes)} sizes")
    first = float(np.log(sizes[0]))
    rows = []
    for report, size in zip(reports, sizes, strict=True):
        log_size = float(np.log(size))
        rows.append([report.get("predicted_size_error", 0.0), report.get("size_error_bias", 0.0),
                     report.get("predicted_redeg_psnr", 0.0) / 10, report.get("view_size_spread", 0.0),
                     log_size, log_size - first])
    return np.asarray(rows, dtype=np.float64).ravel()


@dataclass
class ChooserWeights:
    """A fitted chooser: features are standardised by ``mean`` / ``scale`` (D,), scored by ``weights`` (D x M)
    and ``bias`` (M,); ``members``: the panel's weights settings it was fitted for, in order."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    members: list[str]
    record: dict = field(default_factory=dict)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(M,) or (N x M,): the members' scores (logits) for (D,) or (N x D,) ``features``."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def choose(self, features: np.ndarray, bonus: float) -> int:
        """The member with the highest score once the first gets ``bonus``."""
        scores = self.scores(features)
        scores[0] += bonus
        return int(np.argmax(scores))

    def save(self, path: Path) -> None:
        data = {"format": FORMAT, "members": self.members, "report": list(REPORT), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(), "bias": self.bias.tolist(),
                "record": self.record}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> ChooserWeights:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a panel chooser file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("report") != list(REPORT):
            raise InputError(f"{path}: not a panel chooser file of this version ({FORMAT})")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]),
                   np.array(data["bias"]), list(data["members"]), dict(data.get("record", {})))


_CACHE: dict[str, ChooserWeights] = {}


def cached_chooser(path: Path) -> ChooserWeights:
    """``ChooserWeights.load``, once per process."""
    key = str(path)
    if key not in _CACHE:
        _CACHE[key] = ChooserWeights.load(path)
    return _CACHE[key]


def fit_chooser(features: np.ndarray, redeg: np.ndarray, members: list[str], temperature: float = 1.0,
                weight_decay: float = 1e-3, record: dict | None = None) -> ChooserWeights:
    """Fit a chooser to N cases: ``features`` N x D (``member_features``), ``redeg`` N x M the members' actual
    re-degradation PSNRs (dB; capped at 80, where a kernel is exact). Cross-entropy against the softmax of
    ``redeg`` / ``temperature`` plus ``weight_decay`` times the squared weights, minimised by L-BFGS in float64
    (deterministic)."""
    if features.ndim != 2 or redeg.shape != (len(features), len(members)):
        raise ValueError(f"features {features.shape} and re-degradation {redeg.shape} for {len(members)} members")
    x = torch.from_numpy(features.astype(np.float64))
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    target = torch.softmax(torch.from_numpy(np.minimum(redeg, 80.0)) / temperature, dim=1)
    w = torch.zeros(x.shape[1], len(members), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(members), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = -(target * torch.log_softmax(z @ w + b, dim=1)).sum(1).mean() + weight_decay * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return ChooserWeights(mean.numpy(), scale.numpy(), w.detach().numpy(), b.detach().numpy(), list(members),
                          {"cases": len(features), "temperature": temperature, "weight_decay": weight_decay,
                           **(record or {})})


def cases_for_fitting(cases: Sequence[Mapping], estimators: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(features N x D, re-degradation N x M) from ``benchmarks/suite.py --json`` cases run with each member as
    its own estimator (``estimators``, in the panel's order): each case's ``quality[name]`` (the member's report)
    and ``rows[name]`` (``size``, ``redeg_psnr``)."""
    features, redeg = [], []
    for case in cases:
        try:
            reports = [case["quality"][name] for name in estimators]
            sizes = [case["rows"][name]["size"] for name in estimators]
            redeg.append([case["rows"][name]["redeg_psnr"] for name in estimators])
        except KeyError as exc:
            raise InputError(f"a case of {case.get('photo', '?')} has no {exc} for the panel's members") from None
        features.append(member_features(reports, sizes))
    return np.array(features), np.array(redeg, dtype=np.float64)
