"""kernelgan report / eval --html: a self-contained page, checked as text and, where Chromium is installed, in a
real headless browser."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES
from kernelgan.families import isotropic_gaussian
from kernelgan.io import save_kernel
from kernelgan.report import build_report
from kernelgan_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def estimated(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    assert runner.invoke(app, ["estimate", str(SAMPLES), "-o", str(out), "--sr", "bicubic", "-q"]).exit_code == 0
    bad = out.parent / "bad.png"
    bad.write_text("not an image")
    assert runner.invoke(app, ["estimate", str(bad), "-o", str(out), "-q"]).exit_code == 1
    return out


def rows(page: str) -> int:
    return page.count("<tr class='row'>")


def test_page_has_one_row_per_image_failures_and_embedded_pictures_only(estimated):
    page = build_report(estimated, SAMPLES)
    assert rows(page) == 3
    assert "3 images estimated, 1 failed" in page and "bad.png" in page and "not a readable image" in page
    assert page.count("data:image/jpeg;base64") >= 3 + 2 * 3  # thumbnails and the bicubic | backend crops
    assert "<ellipse" in page and "2 px" in page and "Against the true kernels" in page
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing to fetch at view time


def test_report_command_and_eval_html(tmp_path, estimated):
    result = runner.invoke(app, ["report", str(estimated), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and rows((tmp_path / "r.html").read_text()) == 3
    again = runner.invoke(app, ["report", str(estimated), "-o", str(tmp_path / "r.html")])
    assert again.exit_code == 2 and "--force" in again.output
    ev = runner.invoke(app, ["eval", "--est", str(estimated), "--gt", str(SAMPLES), "--html", str(tmp_path / "e.html")])
    assert ev.exit_code == 0 and "kernel PSNR" in (tmp_path / "e.html").read_text()


def test_empty_folder_and_many_images(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    page = build_report(empty)
    assert rows(page) == 0 and "0 images estimated, 0 failed" in page
    many = tmp_path / "many"
    many.mkdir()
    for i in range(500):
        k = isotropic_gaussian(0.5 + 3 * (i % 50) / 50, 13)
        save_kernel(many / f"p{i}_kernel_x2.npy", k)
        (many / f"p{i}.json").write_text(json.dumps({"image": f"/gone/p{i}.png", "seconds": 0.3,
                                                     "kernels": {"x2": [f"p{i}_kernel_x2.npy"]}}))
    page = build_report(many)
    assert rows(page) == 500 and "<rect" in page  # the size histogram


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(tmp_path, estimated):
    from PIL import Image

    page = tmp_path / "r.html"
    page.write_text(build_report(estimated, SAMPLES))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 20  # pictures and text, not a blank page
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count('<tr class="row">') == 3


def test_thumbnails_show_a_turned_photo_as_a_viewer_does(tmp_path):
    """The input's thumbnail is re-encoded without EXIF, so the report applies the orientation tag itself, as
    the estimate did: a portrait photo stored sideways (tag 6) is shown upright."""
    import base64
    import io

    from PIL import Image

    from kernelgan.report import _thumbnail

    stored = Image.fromarray(np.zeros((40, 90, 3), np.uint8))  # landscape pixels; shown as 90 rows x 40
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    uri = _thumbnail(tmp_path / "phone.jpg")
    assert uri is not None
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert thumb.height > thumb.width
