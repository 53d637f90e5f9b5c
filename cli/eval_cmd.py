"""``kernelgan eval``: score estimated kernels against true ones."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from kernelgan.evaluate import Report, evaluate
from kernelgan.io import atomic_path
from kernelgan.synth import check_scale

from .common import fail, handle_errors, out, print_json
from .progress import task_progress

COLUMNS = (("kernel_psnr", "kernel PSNR"), ("redeg_psnr", "re-degr. PSNR"), ("sr_psnr", "SR PSNR"), ("sr_ssim", "SR SSIM"))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(report: Report, scale: int) -> Table:
    table = Table(title=f"Kernel estimates at x{scale} ({len(report.images)} images)")
    table.add_column("image")
    table.add_column("kernel PSNR", justify="right")
    table.add_column("bicubic floor", justify="right")
    has = {name: any(getattr(s, name) is not None for s in report.images) for name, _ in COLUMNS}
    for name, title in COLUMNS[1:]:
        if has[name]:
            table.add_column(title, justify="right")
    for s in report.images:
        row = [s.image, _fmt(s.kernel_psnr), _fmt(s.floor_kernel_psnr)]
        row += [_fmt(getattr(s, name), 4 if name == "sr_ssim" else 2) for name, _ in COLUMNS[1:] if has[name]]
        table.add_row(*row)
    mean = report.mean()
    table.add_section()
    row = ["mean", _fmt(mean["kernel_psnr"]), _fmt(mean["floor_kernel_psnr"])]
    row += [_fmt(mean[name], 4 if name == "sr_ssim" else 2) for name, _ in COLUMNS[1:] if has[name]]
    table.add_row(*row, style="bold")
    floor = ["bicubic kernel (floor)", _fmt(mean["floor_kernel_psnr"]), ""]
    floor += [_fmt(mean["floor_redeg_psnr"]) if name == "redeg_psnr" else "-" for name, _ in COLUMNS[1:] if has[name]]
    table.add_row(*floor, style="dim")
    table.caption = f"{mean['under_floor']} of {len(report.images)} estimates under the bicubic floor"
    return table


def _write_csv(path: Path, report: Report) -> None:
    fields = [f.name for f in dataclasses.fields(report.images[0])] if report.images else ["image"]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for s in report.images:
                writer.writerow(dataclasses.asdict(s))
            writer.writerow({"image": "mean", **{k: v for k, v in report.mean().items() if k in fields}})


@handle_errors
def eval_(
    est: Path = typer.Option(..., "--est", help="Folder of estimates: <stem>_kernel_x<s>.npy|.mat."),
    gt: Path = typer.Option(..., "--gt", help="Folder of true kernels: <stem>_gt_kernel_x<s>.npy|.mat or DIV2KRK kernel_<N>.mat."),
    hr: Optional[Path] = typer.Option(None, "--hr", help="Folder of HR images <stem>.png: adds re-degradation PSNR."),
    sr: Optional[Path] = typer.Option(None, "--sr", help="Folder of SR results <stem>_x<s>_*.png or <stem>.png: adds SR PSNR/SSIM (needs --hr)."),
    scale: int = typer.Option(2, "--scale", "-s", help="Scale of the kernels: 2 or 4."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else on stdout."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the per-image scores to this CSV file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Kernel PSNR of each estimate against its true kernel (and the bicubic-kernel floor), matched by image stem."""
    check_scale(scale)
    for name, folder in (("--est", est), ("--gt", gt), ("--hr", hr), ("--sr", sr)):
        if folder is not None and not folder.is_dir():
            fail(f"{name} {folder}: not a folder")
    with task_progress(quiet or as_json) as progress:
        task = progress.add_task("evaluating", total=None)
        report = evaluate(est, gt, scale, hr_dir=hr, sr_dir=sr, progress=lambda: progress.advance(task))
    if not report.images:
        fail(f"no estimate in {est} matches a true kernel in {gt} at x{scale}")
    if csv_path is not None:
        _write_csv(csv_path, report)
    if as_json:
        print_json({"scale": scale, "images": [dataclasses.asdict(s) for s in report.images], "mean": report.mean(),
                    "missing": report.missing})
    else:
        out.print(_table(report, scale))
        if report.missing:
            out.print(f"{len(report.missing)} true kernels have no estimate: {', '.join(report.missing[:10])}"
                      + (" ..." if len(report.missing) > 10 else ""))
