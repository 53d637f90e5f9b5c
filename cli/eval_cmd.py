"""``kernelgan eval``: score estimated kernels against true ones, beside the floor, fixed-kernel and ceiling rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from kernelgan.evaluate import ESTIMATE, REFERENCES, ROW_TITLES, Report, evaluate
from kernelgan.evaluate_maps import MAP_ROWS, MAP_TITLES, MapReport, evaluate_maps, map_files
from kernelgan.families import FAMILIES, check_family, fixed_kernel, fixed_kernel_variance
from kernelgan.io import atomic_path
from kernelgan.sr import get_backend
from kernelgan.synth import check_scale

from .common import err, fail, handle_errors, out, print_json
from .progress import task_progress


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def _image_table(report: Report, scale: int) -> Table:
    table = Table(title=f"Kernel estimates at x{scale} ({len(report.images)} images)")
    table.add_column("image", no_wrap=True)
    for title in ("kernel PSNR", "fixed", "floor", "size error", "anis. / true", "orient. error"):
        table.add_column(title, justify="right")
    has_redeg = any(s.rows[ESTIMATE].redeg_psnr is not None for s in report.images)
    has_sr = any(s.rows[ESTIMATE].sr_psnr is not None for s in report.images)
    has_file = any(s.sr_file_psnr is not None for s in report.images)
    if has_redeg:
        table.add_column("re-degr. PSNR", justify="right")
    if has_sr:
        table.add_column("SR PSNR", justify="right")
    if has_file:
        table.add_column("SR file PSNR", justify="right")
    for s in report.images:
        e = s.rows[ESTIMATE]
        row = [s.image, _fmt(e.kernel_psnr), _fmt(s.rows["fixed"].kernel_psnr), _fmt(s.rows["bicubic"].kernel_psnr),
               f"{e.size_error:+.2f}", f"{e.anisotropy:.1f} / {s.true_anisotropy:.1f}", _fmt(e.orientation_error, 0)]
        row += [_fmt(e.redeg_psnr)] if has_redeg else []
        row += [_fmt(e.sr_psnr)] if has_sr else []
        row += [_fmt(s.sr_file_psnr)] if has_file else []
        table.add_row(*row)
    return table


SUMMARY_COLUMNS = (("kernel_psnr", "kernel PSNR", 2), ("under_floor", "under floor", 0),
                   ("size_corr", "size corr.", 3), ("abs_size_error", "|size error|", 3),
                   ("anisotropy_corr", "anis. corr.", 3), ("median_orientation_error", "orient. error (median)", 1),
                   ("redeg_psnr", "re-degr. PSNR", 2), ("sr_psnr", "SR PSNR", 2), ("sr_ssim", "SR SSIM", 4))


def summary_table(report: Report, title: str) -> Table:
    """One row per kernel (estimate, bicubic floor, fixed kernel, truth): means and set-level measures."""
    summary = report.summary()
    shown = [c for c in SUMMARY_COLUMNS if any(summary[row].get(c[0]) is not None for row in summary)]
    table = Table(title=title)
    table.add_column("kernel", no_wrap=True)
    for _, heading, _ in shown:
        table.add_column(heading, justify="right")
    for row in (ESTIMATE, *REFERENCES):
        cells = [_fmt(summary[row].get(name), digits) for name, _, digits in shown]
        table.add_row(ROW_TITLES[row], *cells, style="bold" if row == ESTIMATE else None)
    e = summary[ESTIMATE]
    table.caption = (f"{e['under_fixed']} of {len(report.images)} estimates under the fixed kernel, "
                     f"{e['under_floor']} under the bicubic floor")
    return table


def _write_csv(path: Path, report: Report) -> None:
    fields = ["image", "row", "kernel_psnr", "size", "size_error", "anisotropy", "orientation_error", "redeg_psnr",
              "sr_psnr", "sr_ssim"]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for s in report.images:
                for row, scores in s.rows.items():
                    writer.writerow({"image": s.image, "row": row, **vars(scores)})


@handle_errors
def eval_(
    est: Path = typer.Option(..., "--est", help="Folder of estimates: <stem>_kernel_x<s>.npy|.mat."),
    gt: Path = typer.Option(..., "--gt", help="Folder of true kernels: <stem>_gt_kernel_x<s>.npy|.mat or DIV2KRK kernel_<N>.mat (and/or true kernel maps <stem>_gt_kernelmap_x<s>.npy)."),
    hr: Optional[Path] = typer.Option(None, "--hr", help="Folder of HR images <stem>.png: adds re-degradation PSNR."),
    lr: Optional[Path] = typer.Option(None, "--lr", help="Folder of LR images <stem>.png: with --hr and --sr-backend, SR-based scores for every kernel row."),
    sr_backend: Optional[str] = typer.Option(None, "--sr-backend", help="Non-blind backend for the SR-based score (e.g. srmd; x2 only)."),
    sr: Optional[Path] = typer.Option(None, "--sr", help="Folder of SR results <stem>_x<s>_*.png or <stem>.png: scored against --hr."),
    family: str = typer.Option("div2krk", "--family", help=f"Kernel family of the fixed-kernel row: {', '.join(FAMILIES)} or all."),
    scale: int = typer.Option(2, "--scale", "-s", help="Scale of the kernels: 2 or 4."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else on stdout."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the per-image scores (one line per kernel row) to this CSV file."),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Also write the report page (kernelgan report) for this evaluation."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --html file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score each estimate against its true kernel, matched by image stem, beside three reference kernels scored
    the same way: the bicubic kernel (floor), the family's best fixed kernel chosen without looking at any image
    (the bar an estimate must clear), and the true kernel (ceiling). Measures: kernel PSNR, shape agreement
    (size error, anisotropy, orientation; correlation of log sizes over the set), re-degradation PSNR (--hr),
    SR PSNR/SSIM with a fixed backend (--lr --hr --sr-backend). Where --gt holds true kernel maps (degrade
    --preset varying), estimated maps (estimate --kernel-map) are scored too: kernel PSNR per cell,
    re-degradation and SR PSNR of the map beside the one kernel, the fixed and bicubic kernels and the true map.

    Example: kernelgan eval --est out --gt lr --hr hr --html eval.html
    """
    check_scale(scale)
    check_family(family)
    for name, folder in (("--est", est), ("--gt", gt), ("--hr", hr), ("--lr", lr), ("--sr", sr)):
        if folder is not None and not folder.is_dir():
            fail(f"{name} {folder}: not a folder")
    if sr is not None and hr is None:
        fail("--sr needs --hr (the SR results are scored against the HR images)")
    sr_fn = None
    if sr_backend is not None:
        if lr is None or hr is None:
            fail("--sr-backend needs --lr and --hr")
        if scale != 2:
            fail("--sr-backend scores x2 only")
        backend = get_backend(sr_backend)
        sr_fn = lambda image, kernel: backend.upscale(image, kernel, scale, seed=0)  # noqa: E731
    with_maps = bool(map_files(gt, scale, True))  # degrade --preset varying: true kernel maps
    with task_progress(quiet or as_json) as progress:
        task = progress.add_task("evaluating", total=None)
        report = evaluate(est, gt, scale, fixed_kernel(family, scale), hr_dir=hr, sr_dir=sr, lr_dir=lr, sr=sr_fn,
                          progress=lambda: progress.advance(task))
        maps = (evaluate_maps(est, gt, scale, fixed_kernel(family, scale), hr_dir=hr, lr_dir=lr, sr=sr_fn,
                              progress=lambda: progress.advance(task)) if with_maps else None)
    found_maps = maps is not None and bool(maps.images or maps.failed)
    if not report.images and not report.failed and not found_maps:
        fail(f"no estimate in {est} matches a true kernel" + (" or kernel map" if with_maps else "") +
             f" in {gt} at x{scale}" + (" (estimate with --kernel-map)" if with_maps else ""))
    if csv_path is not None:
        _write_csv(csv_path, report)
    if html_path is not None:
        from kernelgan.report import build_report

        from .report_cmd import write_page

        write_page(build_report(est, gt, family, scale, title=f"kernelgan eval: {est} against {gt}"), html_path, force)
    variance = fixed_kernel_variance(family)
    if as_json:
        print_json({"scale": scale, "family": family, "fixed_kernel_variance": variance, **report.to_dict(),
                    **({"maps": maps.to_dict()} if maps is not None else {})})
    else:
        if report.images or report.failed:
            out.print(_image_table(report, scale))
            out.print(summary_table(report, f"Summary: {len(report.images)} images; fixed kernel = isotropic Gaussian "
                                            f"of variance {variance:g} (best for the {family} family)"))
        if report.missing and not found_maps:
            out.print(f"{len(report.missing)} true kernels have no estimate: {', '.join(report.missing[:10])}"
                      + (" ..." if len(report.missing) > 10 else ""))
        if maps is not None:
            out.print(map_table(maps, scale))
            if maps.missing:
                out.print(f"{len(maps.missing)} true kernel maps have no estimated map (estimate with --kernel-map): "
                          f"{', '.join(maps.missing[:10])}" + (" ..." if len(maps.missing) > 10 else ""))
    failed = {**report.failed, **(maps.failed if maps is not None else {})}
    for stem, why in failed.items():
        err.print(f"[bold red]error:[/] {escape(stem)}: {escape(why)}")
    if failed:
        raise typer.Exit(1)


def map_table(maps: MapReport, scale: int) -> Table:
    """Kernel maps against true maps: one row per map or kernel (means over the images)."""
    summary = maps.summary()
    columns = [(m, title) for m, title in (("cell_psnr", "kernel PSNR per cell"), ("redeg_psnr", "re-degr. PSNR"),
                                            ("sr_psnr", "SR PSNR"), ("sr_ssim", "SR SSIM"))
               if any(summary[row][m] is not None for row in MAP_ROWS)]
    table = Table(title=f"Kernel maps at x{scale} ({len(maps.images)} images with a true map)")
    table.add_column("kernel", no_wrap=True)
    for _, title in columns:
        table.add_column(title, justify="right")
    for row in MAP_ROWS:
        table.add_row(MAP_TITLES[row], *[_fmt(summary[row][m], 4 if m == "sr_ssim" else 2) for m, _ in columns],
                      style="bold" if row == "map" else None)
    return table
