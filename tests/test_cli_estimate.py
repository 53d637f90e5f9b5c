import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SAMPLES, json_lines
from kernelgan.io import load_kernel, read_image, write_image
from kernelgan_cli.app import app

runner = CliRunner()
ITERS = "120"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    zebra = read_image(SAMPLES / "zebra.png")
    write_image(d / "one.png", zebra[:96, :128])
    write_image(d / "two.png", zebra[90:186, 150:278])
    return d


def test_directory_input_writes_the_output_contract(tmp_path, folder):
    out = tmp_path / "out"
    result = run("estimate", folder, "-o", out, "--iters", ITERS, "--scale", "4", "--json")
    assert result.exit_code == 0, result.output
    events = json_lines(result.output)
    assert [e["status"] for e in events] == ["ok", "ok"]
    names = sorted(p.name for p in out.iterdir())
    for stem in ("one", "two"):
        for s in (2, 4):
            assert {f"{stem}_kernel_x{s}{ext}" for ext in (".npy", ".mat", ".png")} <= set(names)
        record = json.loads((out / f"{stem}.json").read_text())
        assert record["scale"] == 4 and record["seed"] == 0 and record["device"] == "cpu"
        assert record["settings"]["iters"] == int(ITERS) and record["seconds"] > 0
        assert set(record["final_losses"]) >= {"g_adversarial", "d"}
    k2 = load_kernel(out / "one_kernel_x2.npy")
    assert k2.shape == (13, 13) and k2.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(load_kernel(out / "one_kernel_x2.mat"), k2)


def test_skip_existing_and_force(tmp_path, folder):
    out = tmp_path / "out"
    assert run("estimate", folder / "one.png", "-o", out, "--iters", ITERS, "-q").exit_code == 0
    before = (out / "one_kernel_x2.npy").read_bytes()
    mtime = (out / "one.json").stat().st_mtime_ns
    result = run("estimate", folder / "one.png", "-o", out, "--iters", ITERS, "--json")
    assert json_lines(result.output)[0]["status"] == "skipped" and result.exit_code == 0
    assert (out / "one.json").stat().st_mtime_ns == mtime
    result = run("estimate", folder / "one.png", "-o", out, "--iters", ITERS, "--json", "--force")
    assert json_lines(result.output)[0]["status"] == "ok"
    assert (out / "one.json").stat().st_mtime_ns != mtime
    # same image, seed and device: byte-identical kernel file
    assert (out / "one_kernel_x2.npy").read_bytes() == before


def test_bad_file_in_batch_is_reported_and_the_batch_goes_on(tmp_path, folder):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    write_image(folder / "small.png", np.zeros((40, 40, 3)))
    out = tmp_path / "out"
    result = run("estimate", folder, "-o", out, "--iters", ITERS, "--json")
    assert result.exit_code == 1
    events = {e["image"].rsplit("/", 1)[-1]: e for e in json_lines(result.output)}
    assert events["broken.png"]["status"] == "failed" and events["small.png"]["status"] == "failed"
    assert "at least 64" in events["small.png"]["error"]
    assert events["one.png"]["status"] == "ok" and events["two.png"]["status"] == "ok"
    assert "Traceback" not in result.output


def test_glob_and_single_errors(tmp_path, folder):
    out = tmp_path / "out"
    result = run("estimate", str(folder / "t*.png"), "-o", out, "--iters", ITERS, "--json")
    assert [e["image"].rsplit("/", 1)[-1] for e in json_lines(result.output)] == ["two.png"]
    for args in (["--scale", "3"], ["--device", "tpu"]):
        bad = run("estimate", folder / "one.png", "-o", out, *args)
        assert bad.exit_code == 2 and "Traceback" not in bad.output and "error" in bad.output
    missing = run("estimate", tmp_path / "nope.png", "-o", out)
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("estimate", "degrade", "eval"):
        assert command in result.output


@pytest.mark.slow
def test_parallel_jobs_give_the_same_kernels_as_serial(tmp_path, folder):
    serial, parallel = tmp_path / "s", tmp_path / "p"
    assert run("estimate", folder, "-o", serial, "--iters", ITERS, "-q").exit_code == 0
    result = run("estimate", folder, "-o", parallel, "--iters", ITERS, "--jobs", "2", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(e["status"] for e in json_lines(result.output)) == ["ok", "ok"]
    for stem in ("one", "two"):
        assert (serial / f"{stem}_kernel_x2.npy").read_bytes() == (parallel / f"{stem}_kernel_x2.npy").read_bytes()


def test_same_stem_in_one_run_gets_distinct_output_names(tmp_path):
    zebra = read_image(SAMPLES / "zebra.png")[:96, :128]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_image(tmp_path / "a" / "x.png", zebra)
    write_image(tmp_path / "b" / "x.png", zebra[:, ::-1])
    import imageio.v3 as iio
    iio.imwrite(tmp_path / "a" / "x.bmp", np.round(zebra * 255).astype(np.uint8))
    out = tmp_path / "out"
    result = run("estimate", tmp_path / "a" / "x.png", tmp_path / "a" / "x.bmp", tmp_path / "b" / "x.png", "-o", out,
                 "--json")
    assert result.exit_code == 0, result.output
    assert [e["status"] for e in json_lines(result.output)] == ["ok", "ok", "ok"]
    records = {p.stem for p in out.glob("*.json")}
    assert records == {"a_x_png", "x_bmp", "b_x_png"}
    for stem in records:
        assert json.loads((out / f"{stem}.json").read_text())["kernels"]["x2"][0].startswith(stem + "_kernel_x2")


def test_rerun_with_other_settings_or_input_is_refused_without_force(tmp_path, folder):
    out = tmp_path / "out"
    assert run("estimate", folder / "one.png", "-o", out, "-q").exit_code == 0
    same = run("estimate", folder / "one.png", "-o", out, "--json")
    assert json_lines(same.output)[0]["status"] == "skipped" and same.exit_code == 0
    other = run("estimate", folder / "one.png", "-o", out, "--seed", "3", "--json")
    event = json_lines(other.output)[0]
    assert other.exit_code == 1 and event["status"] == "failed" and "other settings" in event["error"]
    assert json.loads((out / "one.json").read_text())["seed"] == 0  # nothing replaced
    write_image(folder / "one.png", read_image(folder / "two.png"))
    changed = run("estimate", folder / "one.png", "-o", out, "--json")
    assert "another input" in json_lines(changed.output)[0]["error"]
    forced = run("estimate", folder / "one.png", "-o", out, "--seed", "3", "--force", "--json")
    assert json_lines(forced.output)[0]["status"] == "ok"
    assert json.loads((out / "one.json").read_text())["seed"] == 3


def test_new_prior_weights_at_the_same_path_make_earlier_results_stale(tmp_path, folder):
    import shutil

    from kernelgan.estimator.prior import shipped_weights_path

    weights, out = tmp_path / "mine.pt", tmp_path / "out"
    shutil.copy(shipped_weights_path("prior"), weights)
    args = ("estimate", folder / "one.png", "-o", out, "--opt", f"prior_weights={weights}", "--json")
    assert run(*args).exit_code == 0
    assert json_lines(run(*args).output)[0]["status"] == "skipped"  # same weights: reused
    shutil.copy(shipped_weights_path("prior_sharp"), weights)  # retrained, same file name
    stale = json_lines(run(*args).output)[0]
    assert stale["status"] == "failed" and "other settings" in stale["error"]
    weights.unlink()
    missing = run(*args)
    assert missing.exit_code != 0 and "weights not found" in missing.output and "Traceback" not in missing.output


def test_unwritable_output_is_found_before_any_work(tmp_path, folder):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run("estimate", folder, "-o", blocker / "out")
    assert result.exit_code == 2 and "not writable" in result.output and "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_batch_errors_name_their_file(tmp_path, folder):
    write_image(folder / "small.png", np.zeros((40, 40, 3)))
    result = run("estimate", folder, "-o", tmp_path / "out", "--json")
    events = {e["image"].rsplit("/", 1)[-1]: e for e in json_lines(result.output)}
    assert events["small.png"]["error"].startswith(str(folder / "small.png"))


def test_iters_between_zero_and_the_minimum_is_refused(tmp_path, folder):
    result = run("estimate", folder / "one.png", "-o", tmp_path / "o", "--iters", "3")
    assert result.exit_code == 2 and "--iters" in result.output


@pytest.mark.slow
def test_two_concurrent_processes_neither_duplicate_nor_mix(tmp_path, folder):
    import subprocess
    import sys

    zebra = read_image(SAMPLES / "zebra.png")
    for i in range(4):
        write_image(folder / f"extra{i}.png", zebra[20 * i:20 * i + 100, 30 * i:30 * i + 120])
    for trial in range(3):
        out = tmp_path / f"out{trial}"
        cmd = [sys.executable, "-m", "kernelgan_cli.app", "estimate", str(folder), "-o", str(out), "-e", "kernelgan",
               "--iters", "40", "--json"]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        events = [e for p in procs for e in json_lines(p.communicate(timeout=300)[0])]
        ok = [e["image"] for e in events if e["status"] == "ok"]
        assert sorted(ok) == sorted(set(ok)) and len(ok) == 6, events  # each image estimated exactly once
        assert all(e["status"] in ("ok", "skipped") for e in events)
        for record in out.glob("*.json"):
            data = json.loads(record.read_text())
            assert data["fingerprint"]["settings_sha256"]
        assert not list(out.glob(".*.lock"))


def test_top_level_help_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom typer.testing import CliRunner\nfrom kernelgan_cli.app import app\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0 and 'estimate' in r.output\n"
            "import kernelgan\nprint('torch' in sys.modules, 'scipy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_a_killed_run_leaves_no_half_set_and_a_rerun_completes(tmp_path, folder):
    """SIGKILL a real run at several moments: every set that has its record is complete; a rerun takes over
    the dead process's locks, finishes the rest and leaves no temp or lock file."""
    import signal
    import subprocess
    import sys
    import time

    zebra = read_image(SAMPLES / "zebra.png")
    for i in range(4):
        write_image(folder / f"extra{i}.png", zebra[20 * i:20 * i + 100, 30 * i:30 * i + 120])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "kernelgan_cli.app", "estimate", str(folder), "-o", str(out), "-e", "kernelgan",
           "--iters", "60", "-q"]
    for delay in (1.5, 2.5, 3.5):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for record in out.glob("*.json"):
            data = json.loads(record.read_text())
            for name in data["kernels"]["x2"]:
                assert (out / name).is_file()
            assert load_kernel(out / f"{record.stem}_kernel_x2.npy").shape == (13, 13)
    final = subprocess.run(cmd[:-1] + ["--json"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert sorted(e["status"] for e in json_lines(final.stdout)).count("failed") == 0
    assert len(list(out.glob("*.json"))) == 6
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_a_dead_process_lock_and_temp_files_are_taken_over(tmp_path, folder):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".one.lock").write_text("999999999")  # no such process
    (out / ".one_kernel_x2.kgtmp-999999999-1a2b3c.npy").write_bytes(b"half")  # io.atomic_path's naming
    (out / ".one.kgtmp-999999999-1a2b3c.json").write_text("{")
    result = run("estimate", folder / "one.png", "-o", out, "--json")
    assert json_lines(result.output)[0]["status"] == "ok"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_estimator_settings_by_opt_are_typed_and_checked(tmp_path, folder):
    out = tmp_path / "out"
    bad = run("estimate", folder / "one.png", "-o", out, "--opt", "nope=1")
    assert bad.exit_code == 2 and "no setting 'nope'" in bad.output
    assert run("estimate", folder / "one.png", "-o", out, "--opt", "prior_views=x").exit_code == 2
    assert run("estimate", folder / "one.png", "-o", out, "--opt", "prior_views=3", "-q").exit_code == 1
    ok = run("estimate", folder / "one.png", "-o", out, "--opt", "prior_views=1", "--json", "--force")
    assert ok.exit_code == 0
    assert json.loads((out / "one.json").read_text())["settings"]["prior_views"] == 1


def _report_threads(path, on_step):
    return {"status": "ok", "image": str(path), "summary": "", "threads": torch.get_num_threads()}


def test_worker_processes_share_the_cores_instead_of_each_taking_all(tmp_path, monkeypatch):
    from kernelgan_cli.batch import run_batch

    seen: list[int] = []
    monkeypatch.setattr("kernelgan_cli.batch.print_json", lambda event: seen.append(event["threads"]))
    monkeypatch.setattr("os.cpu_count", lambda: 6)  # read in this process, before the workers start
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    run_batch(paths, _report_threads, label="x", done="done", output=tmp_path, quiet=True, as_json=True, jobs=2)
    assert seen == [3, 3, 3]  # 6 cores, 2 workers (torch alone would take every core in each)


def test_new_srmd_weights_make_an_earlier_estimate_with_its_upscale_stale(tmp_path, folder, monkeypatch):
    import shutil

    from kernelgan.sr import srmd

    weights, out = tmp_path / "srmd_x2.pt", tmp_path / "out"
    shutil.copy(srmd.shipped_weights(2), weights)
    monkeypatch.setattr(srmd, "shipped_weights", lambda scale, kind="classical": weights)  # as an upgrade would replace the file
    args = ("estimate", folder / "one.png", "-o", out, "--sr", "srmd", "--json")
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert json_lines(run(*args).output)[0]["status"] == "skipped"  # same weights: reused
    with open(weights, "ab") as f:  # other content at the same path
        f.write(b"\0")
    stale = json_lines(run(*args).output)[0]
    assert stale["status"] == "failed" and "other settings" in stale["error"]
    weights.unlink()
    missing = run(*args)
    assert missing.exit_code != 0 and "srmd weights not found" in missing.output and "Traceback" not in missing.output


def test_a_photo_stored_sideways_gets_its_kernel_in_the_frame_a_viewer_shows(tmp_path):
    """A phone's portrait photo: pixels stored turned, EXIF orientation 6 turns them back for the viewer. The
    kernel must be the one of the picture as shown (the same as for the upright file), so that it lines up in
    tools that apply the tag (OpenCV's imread, browsers), and the record says the tag was applied."""
    from PIL import Image

    from kernelgan.kernel_shape import kernel_shape
    from kernelgan.kernels import anisotropic_gaussian
    from kernelgan.synth import degrade

    hr = read_image(SAMPLES / "zebra.png")[:192, :256]
    lr, _ = degrade(hr, 2, k2=anisotropic_gaussian(11, 4.0, 0.7, 0.5, (5.5, 5.5)))
    shown = np.round(lr * 255).astype(np.uint8)
    write_image(tmp_path / "upright.png", lr)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(shown, 1)))
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.png", exif=exif.tobytes())
    stored.save(tmp_path / "untagged.png")  # the same stored pixels without the tag: a turned picture
    out = tmp_path / "out"
    result = run("estimate", tmp_path / "upright.png", tmp_path / "phone.png", tmp_path / "untagged.png",
                 "-o", out, "--json")
    assert result.exit_code == 0, result.output
    upright, phone, untagged = (load_kernel(out / f"{s}_kernel_x2.npy") for s in ("upright", "phone", "untagged"))
    np.testing.assert_allclose(phone, upright, atol=1e-6)
    turn = abs(kernel_shape(untagged).orientation - kernel_shape(upright).orientation) % 180
    assert min(turn, 180 - turn) > 45  # without the tag the kernel is turned with the pixels
    assert json.loads((out / "phone.json").read_text())["exif_orientation"] == 6
    assert json.loads((out / "upright.json").read_text())["exif_orientation"] == 1


def test_a_turning_exif_tag_enters_the_fingerprint(tmp_path):
    """Results made before the tag was applied (kernels of the turned picture) must not pass for current ones."""
    from PIL import Image

    from kernelgan.outputs import fingerprint

    data = np.zeros((16, 24, 3), np.uint8)
    for name, orientation in (("plain.png", None), ("one.png", 1), ("six.png", 6)):
        im = Image.fromarray(data)
        exif = im.getexif()
        if orientation is not None:
            exif[0x0112] = orientation
        im.save(tmp_path / name, exif=exif.tobytes())
    settings = {"estimator": "prior", "scale": 2}
    plain, one, six = (fingerprint(tmp_path / n, settings)["settings_sha256"] for n in ("plain.png", "one.png", "six.png"))
    assert plain == one != six
