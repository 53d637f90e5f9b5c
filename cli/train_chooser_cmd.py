"""``kernelgan train-chooser``: fit the panel's chooser to cases whose true kernels are known."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kernelgan.errors import InputError
from kernelgan.estimator.chooser import cases_for_fitting, fit_chooser
from kernelgan.estimator.registry import PANEL

from .common import handle_errors, out

MEMBERS = "prior,prior-sharp,prior-camera,prior-wide"


@handle_errors
def train_chooser_cmd(
    runs: list[Path] = typer.Argument(..., help="JSON files of `benchmarks/suite.py --set training --json`, each run "
                                                "with the panel's members as its estimators."),
    output: Path = typer.Option(..., "-o", "--output", help="Chooser file to write (.json)."),
    estimators: str = typer.Option(MEMBERS, "--estimators", help="The runs' estimator names of the panel's members, in "
                                                                "the panel's order."),
    panel: str = typer.Option(PANEL, "--panel", help="The panel's weights setting (`--opt prior_weights`) the chooser "
                                                     "is for."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, help="dB: how sharply the soft targets favour "
                                                                           "the best member."),
    weight_decay: float = typer.Option(1e-3, "--weight-decay", min=0.0),
    force: bool = typer.Option(False, "--force", help="Overwrite the chooser file."),
) -> None:
    """Fit the panel's chooser (kernelgan/estimator/chooser.py; the shipped one came from this command, docs/estimators.md).

    The runs give, for each synthetic LR of a training photo (never a test or tuning photo), every member's report
    (predicted size error, its sign, predicted re-degradation PSNR, views' spread, kernel size) and its actual
    re-degradation PSNR; the chooser learns which member to trust from the reports.

    Example: python benchmarks/suite.py --set training --estimators prior,prior-sharp,prior-camera,prior-wide
    --no-sr --json train_p1.json (also --prescale 0.5 and 2), then kernelgan train-chooser train_p*.json -o chooser.json
    """
    if output.exists() and not force:
        raise InputError(f"{output} exists; use --force to overwrite it")
    names = [n.strip() for n in estimators.split(",")]
    members = [m.strip() for m in panel.split(",")]
    if len(names) != len(members):
        raise InputError(f"{len(names)} estimator names for a panel of {len(members)} members")
    cases = []
    for run in runs:
        try:
            cases += json.loads(run.read_text())["cases"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{run}: not a suite run ({exc})") from None
    features, redeg = cases_for_fitting(cases, names)
    chooser = fit_chooser(features, redeg, members, temperature, weight_decay,
                          {"runs": [r.name for r in runs], "estimators": names})
    output.parent.mkdir(parents=True, exist_ok=True)
    chooser.save(output)
    out.print(f"wrote {output} ({len(cases)} cases)")
