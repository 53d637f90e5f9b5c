import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kernelgan.io import load_kernel, read_image, write_image
from kernelgan_cli.app import app

from conftest import SAMPLES

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


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


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


def test_parallel_jobs_give_the_same_kernels_as_serial(tmp_path, folder):
    serial, parallel = tmp_path / "s", tmp_path / "p"
    assert run("estimate", folder, "-o", serial, "--iters", ITERS, "-q").exit_code == 0
    result = run("estimate", folder, "-o", parallel, "--iters", ITERS, "--jobs", "2", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(e["status"] for e in json_lines(result.output)) == ["ok", "ok"]
    for stem in ("one", "two"):
        assert (serial / f"{stem}_kernel_x2.npy").read_bytes() == (parallel / f"{stem}_kernel_x2.npy").read_bytes()
