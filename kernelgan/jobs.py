"""Per-file work of the batch commands (estimate, sr, degrade): one input file in, its outputs written, one
event out (``{"image", "status": "ok"|"skipped"|"failed", ...}``); bad input never raises, every error names
its file. The CLI's batch runner calls these, serially or in worker processes."""

from __future__ import annotations

import contextlib
import json
import platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .degradation import degradation_weight_files, measure
from .errors import InputError, KernelganError
from .estimator import EstimateResult, EstimatorConfig
from .estimator.api import estimate_kernels, weight_files
from .estimator.learned import SOFTWARE_PLAIN, software_resampler
from .estimator.local import KernelMap, MapSettings, map_for_estimate
from .io import (
    atomic_path,
    exif_orientation,
    image_text,
    load_kernel,
    read_image,
    save_kernel,
    save_kernel_map,
    write_image,
)
from .kernel_map import x4_map
from .kernel_shape import kernel_shape
from .manifest import manifest_entry, update_manifest
from .map_picture import map_picture
from .noise_patches import PatchSettings, flat_patches, noise_crop, patch_file
from .outputs import (
    MANIFEST,
    expected_outputs,
    file_sha256,
    fingerprint,
    image_lock,
    kernel_digest,
    kernel_map_path,
    kernel_paths,
    lr_path,
    map_picture_path,
    read_record,
    record_path,
    remove_stale,
    retire_set,
    sr_path,
    true_kernel_paths,
    write_estimate,
)
from .pools import PoolEntry, draw
from .presets import apply_preset
from .sr import get_backend
from .sr.base import check_options, takes_maps
from .sr.base import weight_files as backend_weight_files
from .synth import crop_to_multiple, image_rng

Event = dict[str, Any]
READERS = 2  # threads decoding a batch's images while the first ones are estimated
StepFn = Callable[[int, int], None]


def estimate_file(path: Path, on_step: StepFn | None = None, **settings: Any) -> Event:
    """``estimate_files`` for one image."""
    return estimate_files([path], on_step, **settings)[0]


def estimate_files(paths: list[Path], on_step: StepFn | None = None, *, output: Path, scale: int, estimator: str,
                   config: EstimatorConfig, seed: int = 0, device: str = "cpu", force: bool = False,
                   sr_backend: str = "none", real: bool = False, stems: dict[Path, str] | None = None,
                   kernel_map: MapSettings | None = None) -> list[Event]:
    """Estimate images (together: ``estimate_kernels`` batches their GAN runs) and write each one's outputs as
    its ``stem`` (and its upscale with ``sr_backend``; with ``kernel_map`` its kernel map, which the upscale then
    uses); returns one event per path, in order (never raises for bad input; every error names its file; a bad
    file fails alone).

    A finished set (its JSON record written last) is skipped when its fingerprint (input content + settings)
    matches, and refused without ``force`` when it does not; a per-image lock keeps concurrent runs apart."""
    settings = {"estimator": estimator, "config": config.to_dict(), "scale": scale, "seed": seed, "device": device,
                "sr": sr_backend, "real": real, "weights": _digests(weight_files(config), "kernel-prior"),
                "degradation_weights": _digests(degradation_weight_files(), "realism-detector")}
    if kernel_map is not None:  # absent otherwise, as the SR settings
        settings["kernel_map"] = asdict(kernel_map)
    if sr_backend != "none":  # absent otherwise: estimate-only results keep their fingerprints
        settings["sr_weights"] = _digests(backend_weight_files(get_backend(sr_backend), scale, {}), sr_backend)
    events: dict[Path, Event] = {}
    todo: list[tuple[Path, str, list[Path], dict[str, str]]] = []  # path, stem, outputs, fingerprint
    with contextlib.ExitStack() as locks:
        for path in paths:
            stem = (stems or {}).get(path, path.stem)
            event: Event = {"image": str(path), "status": "ok"}
            outputs = expected_outputs(output, stem, scale, kernel_map is not None)
            if sr_backend != "none":
                outputs.append(sr_path(output, stem, scale, sr_backend))
            try:
                if not path.is_file():
                    raise InputError(f"{path}: no such file")
                fp = fingerprint(path, settings)
                if not locks.enter_context(image_lock(output, stem)):
                    events[path] = {**event, "status": "skipped", "reason": "another kernelgan process is working on it"}
                    continue
                done = _finished(output, stem, outputs, fp)
                if done == "same" and not force:
                    events[path] = {**event, "status": "skipped", "reason": "outputs exist with the same input and settings"}
                elif done is not None and not force:
                    events[path] = {**event, "status": "failed", "error": f"{path}: {record_path(output, stem)} "
                                    f"was made from {done}; use --force to replace it"}
                else:
                    todo.append((path, stem, outputs, fp))
            except (KernelganError, OSError) as exc:
                events[path] = {**event, "status": "failed", "error": _named(path, exc)}
        with ThreadPoolExecutor(READERS) as readers:  # decoding overlaps estimation: Pillow and zlib release the GIL
            decoded = zip(todo, readers.map(_read_or_error, [t[0] for t in todo]), strict=True)
            if config.iters == 0:  # no GAN: each image on its own as soon as it is read (nothing to batch)
                for item in decoded:
                    _estimate_and_write([item], events, output, scale, estimator, config, seed, device, on_step,
                                        sr_backend, real, kernel_map)
            else:
                _estimate_and_write(list(decoded), events, output, scale, estimator, config, seed, device, on_step,
                                    sr_backend, real, kernel_map)
    return [events[p] for p in paths]


def _estimate_and_write(items: list[tuple[tuple[Path, str, list[Path], dict[str, str]], np.ndarray | Exception]],
                        events: dict[Path, Event], output: Path, scale: int, estimator: str, config: EstimatorConfig,
                        seed: int, device: str, on_step: StepFn | None, sr_backend: str, real: bool,
                        kernel_map: MapSettings | None) -> None:
    """Estimate the read images of ``items`` ((path, stem, outputs, fingerprint), image or read error) together
    and write each one's outputs; each path's event goes into ``events``."""
    todo = []
    for (path, stem, outputs, fp), image in items:
        if isinstance(image, Exception):
            events[path] = {"image": str(path), "status": "failed", "error": _named(path, image)}
        else:
            todo.append((path, stem, outputs, fp, image))
    results = estimate_kernels([t[-1] for t in todo], scale, config, seed, device, on_step)
    for (path, stem, outputs, fp, image), result in zip(todo, results, strict=True):
        try:
            if isinstance(result, Exception):
                raise result
            written = _write_estimate(path, image, result, output, stem, scale, estimator, config, seed, device,
                                      sr_backend, real, outputs, fp, len(todo), kernel_map)
            events[path] = {"image": str(path), "status": "ok", **written}
        except (KernelganError, OSError) as exc:
            events[path] = {"image": str(path), "status": "failed", "error": _named(path, exc)}


def _read_or_error(path: Path) -> np.ndarray | Exception:
    try:
        return read_image(path)
    except (KernelganError, OSError) as exc:
        return exc


def _digests(paths: list[Path], what: str) -> dict[str, str]:
    """SHA-256 of each weights file a result depends on (the estimator's, the SR backend's): new weights (an
    upgrade, a retrained file at the same path) make earlier results stale. ``what`` names them in errors."""
    digests = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: {what} weights not found")
        digests[str(path.name)] = file_sha256(path)
    return digests


def _finished(output: Path, stem: str, outputs: list[Path], fp: dict[str, str]) -> str | None:
    """None if the set is absent (no record, or a file missing); "same" if its fingerprint matches; otherwise
    what differs ("another input", "other settings")."""
    record = read_record(output, stem)
    if record is None or not all(p.exists() for p in outputs):
        return None
    old = record.get("fingerprint", {})
    if old == fp:
        return "same"
    if old.get("input_sha256") != fp["input_sha256"]:
        return "another input file (content differs)"
    return "other settings"


def _write_estimate(path: Path, img: np.ndarray, result: EstimateResult, output: Path, stem: str,
                    scale: int, estimator: str, config: EstimatorConfig, seed: int, device: str, sr_backend: str,
                    real: bool, outputs: list[Path], fp: dict[str, str], batch: int,
                    kernel_map: MapSettings | None) -> dict:
    seconds = result.seconds  # this image's share of the time its batch took
    degradation = measure(img, path)
    kmap = None if kernel_map is None else map_for_estimate(img, result.kernel_x2, config, kernel_map, device)
    seconds += 0.0 if kmap is None else kmap.seconds
    old_files = retire_set(output, stem)  # the old set (if any) is absent from here until the new record
    kernels = {2: result.kernel_x2} | ({4: result.kernel_x4} if result.kernel_x4 is not None else {})
    resampler = software_resampler(result.quality, config)
    record = {
        "version": __version__, "image": str(path.resolve()), "size": [img.shape[1], img.shape[0]],
        "exif_orientation": exif_orientation(path), "scale": scale,
        "estimator": estimator, "seed": seed, "seed_used": result.seed, "attempts": result.attempts, "device": device,
        "batch": batch, "torch": torch.__version__, "python": platform.python_version(), "seconds": round(seconds, 3),
        "settings": config.to_dict(), "final_losses": result.losses, "quality": result.quality,
        "software_resampler": resampler, "fingerprint": fp,
        "degradation": degradation.to_dict(),
        "kernels": {f"x{s}": [p.name for p in kernel_paths(output, stem, s)] for s in kernels},
        "files": [p.name for p in outputs],
    }
    if kmap is not None:  # the map before the upscale that reads it and the record that commits the set
        record["kernel_map"] = _write_map(output, stem, scale, img, kmap, result.kernel_x4)
    if sr_backend != "none":  # the upscale first: the record, written last, commits the whole set
        sr_event = upscale_file(path, None, output=output, scale=scale, backend=sr_backend, force=True,
                                options={"seed": seed, "device": device, **({"real": True} if real else {})},
                                kernel=result.kernel_x2 if kmap is None else kmap.kernels, stems={path: stem})
        if sr_event["status"] == "failed":
            raise KernelganError(sr_event["error"])
    write_estimate(output, stem, kernels, record)
    remove_stale(output, old_files, outputs)
    shape = kernel_shape(result.kernel_x2)
    note = {None: "", SOFTWARE_PLAIN: " (software downscaling without antialiasing detected)"}.get(
        resampler, " (software bicubic downscaling detected)")
    grid = result.kernel_x2.shape[0]
    if grid > config.kernel_size:  # a wide network's kernel that does not fit the usual grid
        note += f" ({grid}x{grid} kernel: wider than {config.kernel_size}x{config.kernel_size})"
    return {"seconds": round(seconds, 3), "seed_used": result.seed, "retries": len(result.attempts) - 1,
            "quality": result.quality, "kernel_size": round(shape.size, 4), "anisotropy": round(shape.anisotropy, 4),
            "degradation": degradation.to_dict(), "outputs": [str(p) for p in outputs],
            "summary": f"kernel size {shape.size:.2f} px²{_confidence_note(result.quality)}, "
                       f"anisotropy {shape.anisotropy:.2f}{note}, {_map_note(kmap)}"
                       f"{degradation.summary()}, {seconds:.1f} s",
            **({} if kmap is None else {"kernel_map": {"verdict": kmap.verdict(), "variation": round(kmap.variation, 4),
                                                       "grid": [kmap.grid.rows, kmap.grid.cols]}})}


def _write_map(output: Path, stem: str, scale: int, img: np.ndarray, kmap: KernelMap,
               kernel_x4: np.ndarray | None) -> dict:
    """Write the map (x2, and x4 at scale 4) and its picture; returns the record's ``kernel_map`` entry. A uniform
    map's x4 cells are the estimate's own x4 kernel (``kernel_x4``: the analytic x4 of the x2 kernel, or for a
    photo shrunk by MATLAB's imresize, imresize's x4 kernel)."""
    maps = {2: kmap.kernels}
    if scale == 4:
        maps[4] = (x4_map(kmap.kernels) if kmap.varies or kernel_x4 is None
                   else np.broadcast_to(kernel_x4, kmap.kernels.shape[:2] + kernel_x4.shape).copy())
    for s, m in maps.items():
        save_kernel_map(kernel_map_path(output, stem, s), m)
    write_image(map_picture_path(output, stem), map_picture(img, kmap.kernels).astype(np.float32) / 255)
    return {**kmap.grid.to_dict(), "grid": [kmap.grid.rows, kmap.grid.cols], "verdict": kmap.verdict(),
            "variation": round(kmap.variation, 4), "spread": round(kmap.spread, 4), "noise": round(kmap.noise, 4),
            "cell_spread": round(kmap.cell_spread, 4), "seconds": round(kmap.seconds, 3),
            "files": {f"x{s}": kernel_map_path(output, stem, s).name for s in maps},
            "picture": map_picture_path(output, stem).name}


def _map_note(kmap: KernelMap | None) -> str:
    """'blur varies across the photo (variation 2.10, 4x6 map), ' or 'blur uniform ...', '' without a map."""
    if kmap is None:
        return ""
    what = "varies across the photo" if kmap.varies else "uniform across the photo"
    return f"blur {what} (variation {kmap.variation:.2f}, {kmap.grid.rows}x{kmap.grid.cols} map), "


def _confidence_note(quality: dict[str, float]) -> str:
    """' (true size 90%: 3.1-5.2)', with ', LOW CONFIDENCE' when flagged; '' without a confidence."""
    if "true_size_low" not in quality:
        return ""
    flag = ", LOW CONFIDENCE" if quality.get("low_confidence") else ""
    return f" (true size 90%: {quality['true_size_low']:.1f}-{quality['true_size_high']:.1f}{flag})"


def upscale_file(path: Path, on_step: StepFn | None = None, *, output: Path, scale: int, backend: str,
                 force: bool = False, options: dict[str, Any] | None = None, kernel: np.ndarray | None = None,
                 kernels_dir: Path | None = None, stems: dict[Path, str] | None = None) -> Event:
    """Upscale one image with ``kernel`` (an x2 kernel or kernel map; or the x2 kernel ``estimate`` wrote for it in
    ``kernels_dir``) and
    write ``<stem>_x<s>_<backend>.png``; returns the event reported for it (bad input becomes 'failed')."""
    stem = (stems or {}).get(path, path.stem)
    target = sr_path(output, stem, scale, backend)
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        k = kernel if kernel is not None else _kernel_for(path, kernels_dir, stem)
        chosen = get_backend(backend)
        if k.ndim == 4 and not takes_maps(chosen):
            raise InputError(f"backend {backend} takes one kernel, not a kernel map; use --backend srmd")
        checked = check_options(chosen, options or {})
        settings = {"backend": backend, "scale": scale, "kernel_sha256": kernel_digest(k),
                    "options": {key: v for key, v in checked.items() if key != "progress"},
                    "weights": _digests(backend_weight_files(chosen, scale, checked), backend)}
        fp = fingerprint(path, settings)
        if target.exists() and not force:
            old = _sr_fingerprint(target)
            if old == fp:
                return {"image": str(path), "status": "skipped", "reason": f"{target} exists with the same input, "
                        "kernel and settings"}
            what = ("another input file" if old and old.get("input_sha256") != fp["input_sha256"]
                    else "another kernel or other settings" if old else "an unknown input (no fingerprint)")
            raise InputError(f"{target} was made from {what}; use --force to replace it")
        lr = read_image(path)
        sr = chosen.upscale(lr, k, scale, progress=on_step, **checked)
        write_image(target, sr, text={SR_FINGERPRINT: json.dumps(fp, sort_keys=True)})
        return {"image": str(path), "status": "ok", "output": str(target)}
    except (KernelganError, OSError) as exc:
        return {"image": str(path), "status": "failed", "error": _named(path, exc)}


SR_FINGERPRINT = "kernelgan-fingerprint"  # the PNG text chunk an upscale's fingerprint is kept in


def _sr_fingerprint(target: Path) -> dict[str, str] | None:
    try:
        found = json.loads(image_text(target).get(SR_FINGERPRINT, "null"))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _kernel_for(path: Path, kernels_dir: Path | None, stem: str) -> np.ndarray:
    """The x2 kernel ``estimate`` wrote for ``path`` in ``kernels_dir``, found by the naming every command shares
    (``output_stems``: ``stem``); when the folder holds ``estimate``'s record for that name, it must have been
    made from this very file (same content), or the kernel is refused."""
    if kernels_dir is None:
        raise InputError(f"{path}: no kernel given")
    record = read_record(kernels_dir, stem)
    if record is not None:
        made_from = record.get("fingerprint", {}).get("input_sha256") if isinstance(record, dict) else None
        if made_from is not None and made_from != file_sha256(path):
            raise InputError(f"{path}: {record_path(kernels_dir, stem)} was estimated from another file "
                             f"({record.get('image', '?')}); estimate this file, or name its kernel with --kernel")
    for candidate in kernel_paths(kernels_dir, stem, 2, (".npy", ".mat")):
        if candidate.exists():
            return load_kernel(candidate)
    raise InputError(f"{path}: no {stem}_kernel_x2.npy|.mat in {kernels_dir}")


def degrade_file(path: Path, on_step: StepFn | None = None, *, output: Path, scale: int, preset: str,
                 kernel: np.ndarray | None = None, kernel_name: str = "random", noise: float = 0.0,
                 jpeg: int | None = None, seed: int = 0, force: bool = False,
                 stems: dict[Path, str] | None = None, pool: list[PoolEntry] | None = None,
                 noise_patches: list[Path] | None = None, map_mode: str | None = None, demosaic: bool = False
                 ) -> Event:
    """Degrade one HR photo: write its LR image (and true kernel for the classical preset) as its ``stem``
    (``output_stems``) and add its entry, with every random choice and a fingerprint (input content +
    settings), to the folder's manifest; returns the event reported for it. A finished image with the same
    fingerprint is skipped; with another it is refused without ``force``; replacing it removes the old set's
    files that the new one does not have. Classical only: with ``pool`` the kernel is a pool entry drawn for the
    seed and stem (its x4 kernel at x4, else the analytic x4 of its x2 kernel); with ``noise_patches`` a random
    crop of a random patch is added after subsampling, before JPEG; with ``demosaic`` the LR goes through a Bayer
    colour filter array and bilinear demosaicing after any noise, before JPEG. The varying preset writes the true kernel map
    (``kernel_map_path(..., true=True)``; ``map_mode``: its mode, None drawn) in place of a kernel."""
    stem = (stems or {}).get(path, path.stem)
    lr_file = lr_path(output, stem)
    k_paths = (true_kernel_paths(output, stem, scale) if preset == "classical"
               else [kernel_map_path(output, stem, scale, true=True)] if preset == "varying" else [])
    manifest = output / MANIFEST
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        if lr_file.resolve() == path.resolve():
            raise KernelganError(f"{path}: output would overwrite the input; choose another -o")
        entry = None if pool is None else draw(pool, image_rng(seed, f"{stem}:pool"))
        if entry is not None:
            kernel, kernel_name = entry.kernel(scale), f"pool:{entry.name}"
        settings = {"scale": scale, "preset": preset, "seed": seed, "noise": noise, "jpeg": jpeg,
                    "kernel": None if kernel is None else kernel_digest(kernel),
                    "noise_patches": None if noise_patches is None else [file_sha256(p) for p in noise_patches],
                    **({"map_mode": map_mode} if preset == "varying" else {}),
                    **({"demosaic": True} if demosaic else {})}
        fp = fingerprint(path, settings)
        with image_lock(output, stem) as mine:
            if not mine:
                return {"image": str(path), "status": "skipped", "reason": "another kernelgan process is working on it"}
            old = manifest_entry(manifest, stem)
            existing = [p for p in [lr_file, *k_paths] if p.exists()]
            if existing and not force:
                if old is not None and old.get("fingerprint") == fp and all(p.exists() for p in [lr_file, *k_paths]):
                    return {"image": str(path), "status": "skipped",
                            "reason": "outputs exist with the same input and settings"}
                raise KernelganError(f"{existing[0]} exists (use --force to overwrite)")
            img = read_image(path)
            options: dict[str, Any] = ({"kernel": kernel, "noise": noise, "jpeg_quality": jpeg, "demosaic": demosaic}
                                       if preset == "classical"
                                       else {"map_mode": map_mode} if preset == "varying" else {})
            patch_drawn = None
            if noise_patches is not None:
                lr_shape = (img.shape[0] // scale, img.shape[1] // scale)
                options["noise_patch"], patch_drawn = noise_crop(noise_patches, lr_shape,
                                                                 image_rng(seed, f"{stem}:noise"), str(path))
            result = apply_preset(preset, crop_to_multiple(img, scale), scale, image_rng(seed, stem), **options)
            write_image(lr_file, result.lr)
            for p in k_paths:  # the classical preset's kernel files, the varying preset's map
                if result.true_map is not None:
                    save_kernel_map(p, result.true_map)
                else:
                    assert result.true_kernel is not None
                    save_kernel(p, result.true_kernel)
            update_manifest(manifest, {
                "image": stem, "source": str(path), "lr": lr_file.name, "scale": scale, "preset": preset,
                "seed": seed, "hr_size": [img.shape[1] - img.shape[1] % scale, img.shape[0] - img.shape[0] % scale],
                "lr_size": [result.lr.shape[1], result.lr.shape[0]], "kernel": kernel_name,
                "true_kernel": [p.name for p in k_paths] if preset == "classical" else None,
                "true_kernel_map": k_paths[0].name if preset == "varying" else None,
                "true_kernel_note": None if k_paths else f"the {preset} blur is not a single kernel; none written",
                "choices": result.choices, "noise_patch": patch_drawn, "fingerprint": fp, "version": __version__,
            })
            if old is not None:
                names = [old.get("lr"), old.get("true_kernel_map"), *(old.get("true_kernel") or [])]
                old_files = {str(n) for n in names if isinstance(n, str)}
                remove_stale(output, {n for n in old_files if "/" not in n}, [lr_file, *k_paths])
        return {"image": str(path), "status": "ok", "outputs": [str(p) for p in [lr_file, *k_paths]]}
    except (KernelganError, OSError) as exc:
        return {"image": str(path), "status": "failed", "error": _named(path, exc)}


def noise_patches_file(path: Path, on_step: StepFn | None = None, *, output: Path, settings: PatchSettings,
                       force: bool = False, stems: dict[Path, str] | None = None) -> Event:
    """Collect one photo's flat patches (``noise_patches``) into ``output`` as ``<stem>_noise_NN.npy`` and its
    manifest entry (sources, places, variances, fingerprint); a photo without a flat patch gets an entry with no
    patches. Reruns and ``force`` as ``degrade_file``."""
    stem = (stems or {}).get(path, path.stem)
    manifest = output / MANIFEST
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        fp = fingerprint(path, {"noise_patches": asdict(settings)})
        with image_lock(output, stem) as mine:
            if not mine:
                return {"image": str(path), "status": "skipped", "reason": "another kernelgan process is working on it"}
            old = manifest_entry(manifest, stem)
            old_files = [output / p["file"] for p in (old or {}).get("patches", []) if isinstance(p, dict)]
            if old is not None and not force:
                if old.get("fingerprint") == fp and all(p.exists() for p in old_files):
                    return {"image": str(path), "status": "skipped",
                            "reason": "patches exist with the same input and settings"}
                raise KernelganError(f"{path}: {output} already holds its patches (use --force to replace them)")
            found = flat_patches(read_image(path), settings)
            written: list[dict[str, Any]] = []
            for i, patch in enumerate(found):
                target = patch_file(output, stem, i)
                with atomic_path(target) as tmp:
                    np.save(tmp, patch.noise, allow_pickle=False)
                written.append({"file": target.name, "top": patch.top, "left": patch.left,
                                "variance": [round(v, 3) for v in patch.variance]})
            update_manifest(manifest, {"image": stem, "source": str(path), "settings": asdict(settings),
                                       "patches": written, "fingerprint": fp, "version": __version__})
            remove_stale(output, {p.name for p in old_files}, [output / w["file"] for w in written])
        summary = f"{len(written)} flat patch{'es' if len(written) != 1 else ''}" if written else "no flat patch"
        return {"image": str(path), "status": "ok", "outputs": [str(output / w["file"]) for w in written],
                "patches": len(written), "summary": summary}
    except (KernelganError, OSError) as exc:
        return {"image": str(path), "status": "failed", "error": _named(path, exc)}


def _named(path: Path, exc: Exception) -> str:
    """The error's message, prefixed by the file unless it already names it."""
    message = str(exc)
    return message if str(path) in message else f"{path}: {message}"


