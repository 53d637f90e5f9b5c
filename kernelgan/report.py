"""``kernelgan report``: one self-contained HTML page for an output folder (images embedded, no network, a few
lines of plain JavaScript to sort the table).

Per image: a thumbnail of the input, the kernel magnified with its covariance ellipse (2 sigma) and a scale
bar, its size and anisotropy, the quality fields of ``photo.json``, seconds, the x4 kernel when present, and
where an upscale exists a side-by-side crop (bicubic interpolation vs the backend) at the same place. At the
top: counts, failures with their messages (``failures.json`` of the last run), total time, a plot (estimated
vs true size when true kernels are known, else a histogram of sizes) and, with true kernels, the yardstick's
summary rows.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from .errors import KernelganError
from .io import kernel_picture, load_kernel, read_image
from .kernel_shape import MIN_SIZE, covariance, kernel_shape
from .kernels import centre_of_mass
from .outputs import FAILURES, file_sha256, kernel_paths, natural_key, sr_candidates
from .resize import imresize

THUMB = 160  # px, longest side of an input thumbnail
CROP = 96  # px, side of the SR comparison crops
KERNEL_SIDE = 156  # screen pixels of a kernel picture (at least 4 per tap)


@dataclass
class Entry:
    """One estimated image of the folder (or one that failed: ``error`` set, nothing else)."""

    name: str
    record: dict[str, Any] = field(default_factory=dict)
    kernel_x2: np.ndarray | None = None
    kernel_x4: np.ndarray | None = None
    sr_files: list[Path] = field(default_factory=list)
    truth: dict[str, Any] | None = None  # kernel_psnr, fixed_kernel_psnr, size_error, true_size, kernel (array)
    error: str | None = None


def collect(out_dir: Path, truths: dict[str, dict[str, Any]] | None = None,
            kernels: dict[str, Path] | None = None) -> list[Entry]:
    """The folder's finished sets (their JSON records with a kernels entry), the evaluated stems that have kernel
    files but no record (``kernels``: stem -> file, as ``eval`` matched them), then the last run's failures. A
    set whose files cannot be read is an entry with its error, never an exception."""
    entries = []
    for record_file in sorted(out_dir.glob("*.json"), key=lambda p: natural_key(p.stem)):
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "kernels" not in record:
            continue
        stem = record_file.stem
        entry = Entry(stem, record, truth=(truths or {}).get(stem))
        try:
            for scale in (2, 4):
                path = kernel_paths(out_dir, stem, scale, (".npy",))[0]
                if path.exists():
                    setattr(entry, f"kernel_x{scale}", load_kernel(path))
        except KernelganError as exc:
            entries.append(Entry(stem, error=str(exc)))
            continue
        if entry.kernel_x2 is None:
            entries.append(Entry(stem, error=f"{kernel_paths(out_dir, stem, 2, ('.npy',))[0]}: missing"))
            continue
        entry.sr_files = sr_candidates(out_dir, stem, 2) + sr_candidates(out_dir, stem, 4)
        entries.append(entry)
    named = {e.name for e in entries}
    for stem, path in sorted((kernels or {}).items(), key=lambda kv: natural_key(kv[0])):
        if stem not in named:
            try:
                entries.append(Entry(stem, {}, kernel_x2=load_kernel(path), truth=(truths or {}).get(stem)))
            except KernelganError as exc:
                entries.append(Entry(stem, error=str(exc)))
    return entries + _failures(out_dir / FAILURES)


def _failures(path: Path) -> list[Entry]:
    """The entries of ``failures.json`` (``[{"image", "error"}]``); a malformed file is one entry saying so."""
    if not path.exists():
        return []
    try:
        items = json.loads(path.read_text())
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("image"), str)
                                                  and isinstance(i.get("error"), str) for i in items):
            raise ValueError("not a list of {image, error}")
    except (OSError, ValueError) as exc:
        return [Entry(path.name, error=f"{path}: unreadable ({str(exc).splitlines()[0]})")]
    return [Entry(Path(i["image"]).name, error=i["error"]) for i in items]


def source_image(entry: Entry, out_dir: Path) -> Path | None:
    """The input file a record names, if it is the very file that was estimated: its content's SHA-256 must
    match the record's fingerprint (a crafted or stale record cannot embed another local file). A relative
    name is tried from the current folder and from the output folder's parent."""
    name = entry.record.get("image")
    wanted = (entry.record.get("fingerprint") or {}).get("input_sha256")
    if not isinstance(name, str) or not isinstance(wanted, str):
        return None
    for candidate in ([Path(name)] if Path(name).is_absolute() else [Path(name), out_dir.parent / name]):
        try:
            if candidate.is_file() and file_sha256(candidate) == wanted:
                return candidate
        except OSError:
            continue
    return None


def _data_uri(img: np.ndarray, fmt: str = "JPEG") -> str:
    """HxW(x3) uint8 as an embedded image."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, quality=85)
    mime = "jpeg" if fmt == "JPEG" else "png"
    return f"data:image/{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _thumbnail(path: Path) -> str | None:
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")  # as the photo is shown, and as it was estimated
            im.thumbnail((THUMB, THUMB))
            return _data_uri(np.asarray(im))
    except (OSError, ValueError):
        return None


def kernel_svg(k: np.ndarray, label: str) -> str:
    """The kernel magnified, its 2-sigma covariance ellipse and a 2-px scale bar, as inline SVG."""
    n = k.shape[0]
    px = max(4, KERNEL_SIDE // n)  # screen pixels per tap
    side = n * px
    pic = _data_uri(kernel_picture(k, px), "PNG")
    cov = covariance(k)
    vals, vecs = np.linalg.eigh(cov)
    cy, cx = (centre_of_mass(np.clip(k, 0, None)) + 0.5) * px
    angle = math.degrees(math.atan2(vecs[0, 1], vecs[1, 1]))
    rx, ry = 2 * math.sqrt(max(vals[1], 0)) * px, 2 * math.sqrt(max(vals[0], 0)) * px
    bar = 2 * px
    return (f'<svg width="{side}" height="{side + 16}" role="img" aria-label="{html.escape(label)}">'
            f'<image href="{pic}" width="{side}" height="{side}"/>'
            f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" transform="rotate({angle:.1f} {cx:.1f} '
            f'{cy:.1f})" fill="none" stroke="#e33" stroke-width="1.5"/>'
            f'<line x1="2" y1="{side + 8}" x2="{2 + bar}" y2="{side + 8}" stroke="#222" stroke-width="3"/>'
            f'<text x="{bar + 6}" y="{side + 12}" font-size="10">2 px</text></svg>')


def sr_crops(source: Path, sr_file: Path) -> tuple[str, str] | None:
    """Bicubic interpolation of the input and the backend's upscale, cropped at the same (most detailed) place."""
    try:
        lr, sr = read_image(source), read_image(sr_file)
    except Exception:  # noqa: BLE001 - a missing or unreadable file just leaves the comparison out
        return None
    scale = round(sr.shape[0] / lr.shape[0])
    if scale < 2 or min(sr.shape[:2]) < CROP:
        return None
    up = _to_uint8(imresize(lr, output_shape=sr.shape[:2]))  # what the bicubic backend gives
    gray = sr.mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1]
    step = CROP // 2
    best, top, left = -1.0, 0, 0
    for t in range(0, sr.shape[0] - CROP + 1, step):
        for left_ in range(0, sr.shape[1] - CROP + 1, step):
            e = float(energy[t:t + CROP - 1, left_:left_ + CROP - 1].sum())
            if e > best:
                best, top, left = e, t, left_
    window = (slice(top, top + CROP), slice(left, left + CROP))
    return _data_uri(up[window]), _data_uri(_to_uint8(sr[window]))


def _svg_plot(entries: list[Entry]) -> str:
    """Estimated vs true size (log-log scatter) when truths are known, else a histogram of estimated sizes."""
    sizes = [(e.name, max(kernel_shape(e.kernel_x2).size, MIN_SIZE), (e.truth or {}).get("true_size"))
             for e in entries if e.kernel_x2 is not None]  # floored: a delta kernel has size 0 (log scale)
    if not sizes:
        return ""
    w, h, pad = 360, 240, 36
    known = [(n, s, t) for n, s, t in sizes if t]
    if known:
        lo = math.log(min(min(s, t) for _, s, t in known)) - 0.1
        hi = math.log(max(max(s, t) for _, s, t in known)) + 0.1

        def pos(v: float, length: int) -> float:
            return pad + (math.log(v) - lo) / (hi - lo) * (length - 2 * pad)

        dots = "".join(f'<circle cx="{pos(t, w):.1f}" cy="{h - pos(s, h):.1f}" r="3" fill="#36c"><title>'
                       f'{html.escape(n)}: {s:.2f} (true {t:.2f})</title></circle>' for n, s, t in known)
        return (f'<svg width="{w}" height="{h}" class="plot"><line x1="{pad}" y1="{h - pad}" x2="{w - pad}" '
                f'y2="{pad}" stroke="#aaa"/>{dots}<text x="{w / 2 - 60}" y="{h - 6}" font-size="11">true size '
                f'(px², log)</text><text x="4" y="14" font-size="11">estimated size</text></svg>')
    logs = np.log([s for _, s, _ in sizes])
    counts, edges = np.histogram(logs, bins=min(20, max(1, len(logs))))
    bw = (w - 2 * pad) / len(counts)
    bars = "".join(f'<rect x="{pad + i * bw:.1f}" y="{h - pad - c / counts.max() * (h - 2 * pad):.1f}" '
                   f'width="{bw - 1:.1f}" height="{c / counts.max() * (h - 2 * pad):.1f}" fill="#36c"/>'
                   for i, c in enumerate(counts))
    return (f'<svg width="{w}" height="{h}" class="plot">{bars}<text x="{pad}" y="{h - 8}" font-size="11">'
            f'kernel size {math.exp(edges[0]):.2f} .. {math.exp(edges[-1]):.2f} px² (log bins)</text></svg>')


_STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}th{cursor:pointer;background:#eee}
.fail{color:#b00}.num{text-align:right}.crops{white-space:nowrap}.crops img{margin-right:4px}"""
_SORT = """document.querySelectorAll('th').forEach((th,i)=>th.onclick=()=>{const b=th.closest('table').tBodies[0];
const rows=[...b.rows];const dir=th.dataset.dir=th.dataset.dir==='1'?'-1':'1';rows.sort((x,y)=>{const a=x.cells[i]
.dataset.v??x.cells[i].textContent,c=y.cells[i].dataset.v??y.cells[i].textContent;const p=parseFloat(a),q=parseFloat(c);
return (isNaN(p)||isNaN(q)?a.localeCompare(c):p-q)*dir});rows.forEach(r=>b.appendChild(r))});"""


def _pool_section(entries: list[Entry], fixed: np.ndarray | None, scale: int) -> str:
    """With true kernels: the folder as a kernel pool (``pools``): histograms of estimated and true log sizes and
    the two-sample comparison, beside an image-blind pool (the fixed kernel for every photo)."""
    pairs = [(k, e.truth["kernel"]) for e in entries for k in [e.kernel_x2 if scale == 2 else e.kernel_x4]
             if k is not None and e.truth and e.truth.get("kernel") is not None]
    if len(pairs) < 3:
        return ""
    from .pools import pool_faithfulness

    truths = [t for _, t in pairs]
    rows = [("estimates", pool_faithfulness([k for k, _ in pairs], truths))]
    if fixed is not None:
        rows.append(("fixed kernel (image-blind)", pool_faithfulness([fixed] * len(pairs), truths)))
    est = np.log([max(kernel_shape(k).size, MIN_SIZE) for k, _ in pairs])
    true = np.log([max(kernel_shape(t).size, MIN_SIZE) for t in truths])
    edges = np.linspace(min(est.min(), true.min()) - 0.05, max(est.max(), true.max()) + 0.05, 16)
    w, h, pad = 360, 200, 30
    counts = [np.histogram(v, edges)[0] for v in (est, true)]
    top = max(c.max() for c in counts)
    bw = (w - 2 * pad) / (len(edges) - 1)
    bars = "".join(f'<rect x="{pad + i * bw + j * bw / 2:.1f}" y="{h - pad - c / top * (h - 2 * pad):.1f}" '
                   f'width="{bw / 2 - 1:.1f}" height="{c / top * (h - 2 * pad):.1f}" fill="{color}"/>'
                   for j, (cs, color) in enumerate(zip(counts, ("#36c", "#e80"), strict=True))
                   for i, c in enumerate(cs))
    svg = (f'<svg width="{w}" height="{h}" class="plot">{bars}<text x="{pad}" y="{h - 8}" font-size="11">'
           f'kernel size {math.exp(edges[0]):.2f} .. {math.exp(edges[-1]):.2f} px² (log bins): '
           f'<tspan fill="#36c">estimated</tspan>, <tspan fill="#e80">true</tspan></text></svg>')
    table = ("<table><thead><tr><th>pool</th><th>KS statistic (log size)</th><th>p</th><th>median log size "
             "ratio</th><th>KS statistic (anisotropy)</th></tr></thead><tbody>" + "".join(
                 f"<tr><td>{html.escape(name)}</td><td class='num'>{f.ks:.3f}</td><td class='num'>{f.p_value:.3g}"
                 f"</td><td class='num'>{f.median_log_ratio:+.3f}</td><td class='num'>{f.anisotropy_ks:.3f}</td></tr>"
                 for name, f in rows) + "</tbody></table>")
    return ("<h2>As a kernel pool</h2><p>Estimated against true kernel sizes as distributions (what matters "
            "when the kernels become a pool for <code>degrade --kernels</code>).</p>" + svg + table)


def render(entries: list[Entry], title: str, out_dir: Path,
           summary_rows: list[tuple[str, dict[str, Any]]] | None = None, fixed: np.ndarray | None = None,
           scale: int = 2) -> str:
    """The whole page as one HTML string."""
    ok = [e for e in entries if e.error is None]
    failed = [e for e in entries if e.error is not None]
    seconds = sum(float(e.record.get("seconds", 0)) for e in ok)
    has_truth = any(e.truth for e in ok)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p id='summary'>{len(ok)} images estimated, {len(failed)} failed, {seconds:.1f} s of estimation "
             f"in all.</p>"]
    if failed:
        parts.append("<h2>Failures</h2><ul>" + "".join(
            f"<li class='fail'>{html.escape(e.name)}: {html.escape(e.error or '')}</li>" for e in failed) + "</ul>")
    parts.append(_svg_plot(ok))
    if summary_rows:
        parts.append("<h2>Against the true kernels</h2><table><thead><tr><th>kernel</th><th>kernel PSNR</th>"
                     "<th>size corr.</th><th>|size error|</th></tr></thead><tbody>")
        for name, row in summary_rows:
            cells = [row.get("kernel_psnr"), row.get("size_corr"), row.get("abs_size_error")]
            parts.append(f"<tr><td>{html.escape(name)}</td>" + "".join(
                f"<td class='num'>{'-' if v is None else f'{v:.3f}'}</td>" for v in cells) + "</tr>")
        parts.append("</tbody></table>")
        parts.append(_pool_section(ok, fixed, scale))
    head = ["image", "input", "kernel x2", "size (px²)", "true size, 90% (px²)", "anisotropy", "orientation (°)",
            "view spread", "noise (8-bit σ)", "JPEG", "seconds"]
    head += ["kernel PSNR", "fixed kernel PSNR", "size error"] if has_truth else []
    head += ["kernel x4", "upscale: bicubic | backend"]
    has_maps = any(isinstance(e.record.get("kernel_map"), dict) for e in ok)
    head += ["kernel map (uniform / varies, variation)"] if has_maps else []
    parts.append("<h2>Images</h2><table id='images'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
                 + "</tr></thead><tbody>")
    for e in ok:
        parts.append(_row(e, has_truth, out_dir, has_maps))
    parts.append(f"</tbody></table><script>{_SORT}</script></body></html>")
    return "".join(parts)


def _degradation_cells(found: Any) -> list[str]:
    """The noise level and the JPEG verdict (quality from the file, or blocking seen in the pixels)."""
    if not isinstance(found, dict):
        return ["<td>-</td>", "<td>-</td>"]
    noise = found.get("noise_sigma")
    jpeg = found.get("jpeg")
    if not isinstance(jpeg, dict):
        jpeg = {}
    verdict = (f"q{jpeg['quality']}" if isinstance(jpeg.get("quality"), int)
               else "blocking" if jpeg.get("jpeg") else "no")
    return [f"<td class='num'>{noise:.1f}</td>" if isinstance(noise, (int, float)) else "<td>-</td>",
            f"<td>{html.escape(verdict)}</td>"]


def _confidence_cell(quality: dict[str, Any]) -> str:
    """The confidence's 90% interval of the true size, flagged when low; '-' without a confidence."""
    low, high = quality.get("true_size_low"), quality.get("true_size_high")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return "<td>-</td>"
    flag = " <b class='fail'>low confidence</b>" if quality.get("low_confidence") else ""
    error = quality.get("predicted_size_error")
    return (f"<td class='num' data-v='{error if isinstance(error, (int, float)) else 0:.4f}'>"
            f"{low:.2f}-{high:.2f}{flag}</td>")


def _map_cell(record: dict[str, Any], out_dir: Path) -> str:
    """The picture of ``estimate --kernel-map``'s map with its verdict and variation; '-' without a map."""
    found = record.get("kernel_map")
    if not isinstance(found, dict):
        return "<td>-</td>"
    picture = found.get("picture")
    thumb = _thumbnail(out_dir / picture) if isinstance(picture, str) and "/" not in picture else None
    grid = found.get("grid")
    if not isinstance(grid, list) or len(grid) != 2:
        grid = ["?", "?"]
    variation = found.get("variation")
    amount = f"{variation:.2f}" if isinstance(variation, (int, float)) else "?"
    text = html.escape(f"{found.get('verdict', '?')}, {amount} ({grid[0]}x{grid[-1]})")
    image = f"<img src='{thumb}' alt='kernel map'><br>" if thumb else ""
    return f"<td>{image}{text}</td>"


def _row(e: Entry, has_truth: bool, out_dir: Path, has_maps: bool = False) -> str:
    assert e.kernel_x2 is not None  # collect() makes an error entry of a set without its x2 kernel
    shape = kernel_shape(e.kernel_x2)
    source = source_image(e, out_dir)
    thumb = _thumbnail(source) if source is not None else None
    quality = e.record.get("quality", {}) or {}
    spread = quality.get("view_size_spread")
    resampler = e.record.get("software_resampler")  # named software downscaling (photo.json), None for optical blur
    named = "" if not resampler else f"<br><small>software: {html.escape(str(resampler))}</small>"
    cells = [f"<td>{html.escape(e.name)}{named}</td>",
             f"<td><img src='{thumb}' alt='input'></td>" if thumb else "<td>-</td>",
             f"<td>{kernel_svg(e.kernel_x2, e.name + ' kernel')}</td>",
             f"<td class='num' data-v='{shape.size:.4f}'>{shape.size:.2f}</td>",
             _confidence_cell(quality),
             f"<td class='num'>{shape.anisotropy:.2f}</td>",
             f"<td class='num'>{shape.orientation:.0f}</td>",
             f"<td class='num'>{'-' if spread is None else f'{spread:.3f}'}</td>",
             *_degradation_cells(e.record.get("degradation")),
             f"<td class='num'>{float(e.record.get('seconds', 0)):.2f}</td>"]
    if has_truth:
        t = e.truth or {}
        cells += [f"<td class='num'>{t.get(k, float('nan')):.2f}</td>"
                  for k in ("kernel_psnr", "fixed_kernel_psnr", "size_error")]
    cells.append(f"<td>{kernel_svg(e.kernel_x4, e.name + ' x4 kernel') if e.kernel_x4 is not None else '-'}</td>")
    crops = [sr_crops(source, f) for f in e.sr_files] if source is not None else []
    cells.append("<td class='crops'>" + ("".join(
        f"<img src='{a}' alt='bicubic'><img src='{b}' alt='{html.escape(f.name)}'>"
        for f, c in zip(e.sr_files, crops, strict=True) if c for a, b in [c]) or "-") + "</td>")
    if has_maps:
        cells.append(_map_cell(e.record, out_dir))
    return "<tr class='row'>" + "".join(cells) + "</tr>"


def build_report(out_dir: Path, gt_dir: Path | None = None, family: str = "div2krk", scale: int = 2,
                 title: str | None = None) -> str:
    """The page for ``out_dir``; with ``gt_dir`` (true kernels as ``eval`` finds them), the yardstick's numbers
    per image and its summary rows (estimate, bicubic floor, fixed kernel, truth)."""
    from .evaluate import REFERENCES, ROW_TITLES, evaluate, kernel_files
    from .families import fixed_kernel

    truths: dict[str, dict[str, Any]] | None = None
    summary_rows = None
    kernels = None
    if gt_dir is not None:
        report = evaluate(out_dir, gt_dir, scale, fixed_kernel(family, scale))
        gt_files = kernel_files(gt_dir, scale)
        truths = {s.image: {"kernel_psnr": s.rows["estimate"].kernel_psnr,
                            "fixed_kernel_psnr": s.rows["fixed"].kernel_psnr,
                            "size_error": s.rows["estimate"].size_error, "true_size": s.true_size,
                            "kernel": _true_kernel(gt_files.get(s.image))}
                  for s in report.images}
        summary = report.summary()
        summary_rows = [(ROW_TITLES[row], summary[row]) for row in ("estimate", *REFERENCES)]
        estimates = kernel_files(out_dir, scale)
        kernels = {s.image: estimates[s.image] for s in report.images if s.image in estimates}
    entries = collect(out_dir, truths, kernels)
    if gt_dir is not None:  # what eval could not score is shown as failed, not left out
        named = {e.name for e in entries}
        entries += [Entry(stem, error=why) for stem, why in report.failed.items() if stem not in named]
    fixed = fixed_kernel(family, scale) if gt_dir is not None else None
    return render(entries, title or f"kernelgan: {out_dir}", out_dir, summary_rows, fixed, scale)


def _true_kernel(path: Path | None) -> np.ndarray | None:
    try:
        return None if path is None else load_kernel(path)
    except KernelganError:
        return None
