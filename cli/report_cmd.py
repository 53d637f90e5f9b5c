"""``kernelgan report``: one self-contained HTML page for an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kernelgan.io import atomic_path
from kernelgan.report import build_report
from kernelgan.synth import check_scale

from .common import fail, handle_errors, out


def write_page(page: str, target: Path, force: bool) -> None:
    if target.exists() and not force:
        fail(f"{target} exists (use --force to overwrite)")
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8", errors="replace")  # a file name that is not UTF-8 shows as �


@handle_errors
def report(
    folder: Path = typer.Argument(..., help="An output folder of `kernelgan estimate` (and `--sr`)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="The HTML file [FOLDER/report.html]."),
    gt: Optional[Path] = typer.Option(None, "--gt", help="True kernels (as `eval --gt`): adds the yardstick's numbers."),
    family: str = typer.Option("div2krk", "--family", help="Kernel family of the fixed-kernel row (with --gt)."),
    scale: int = typer.Option(2, "--scale", "-s", help="Scale of the true kernels (with --gt)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the HTML file."),
) -> None:
    """Write one self-contained HTML page: per image the input, the kernel with its covariance ellipse, its size,
    anisotropy, quality and time, the x4 kernel and an upscale crop; a summary, failures, a sortable table and a
    plot; with --gt the kernel PSNR, size error and the floor / fixed-kernel / ceiling rows.

    Example: kernelgan report out --gt lr
    """
    check_scale(scale)
    if not folder.is_dir():
        fail(f"{folder}: not a folder")
    if gt is not None and not gt.is_dir():
        fail(f"--gt {gt}: not a folder")
    target = output or folder / "report.html"
    write_page(build_report(folder, gt, family, scale), target, force)
    out.print(f"wrote {target}")
