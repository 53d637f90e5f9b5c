import json
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES, natural_image
from kernelgan.errors import InputError
from kernelgan.io import read_image, save_kernel, write_image
from kernelgan.kernels import random_kernel
from kernelgan.metrics import psnr_y
from kernelgan.sr import available_backends, get_backend
from kernelgan.sr.zssr import ResidualNet, back_project
from kernelgan.synth import degrade
from kernelgan_cli.app import app

runner = CliRunner()


def test_builtin_registry():
    names = available_backends()
    assert names["bicubic"] == "built-in" and names["zssr"] == "built-in"
    with pytest.raises(InputError, match="unknown SR backend"):
        get_backend("nope")


def test_entry_point_plugin_is_discovered(tmp_path, monkeypatch):
    (tmp_path / "kg_test_plugin.py").write_text(textwrap.dedent('''
        import numpy as np

        class Nearest:
            name = "nearest-test"
            scales = (2,)
            description = "nearest neighbour, for tests"

            def upscale(self, lr, kernel, scale, **options):
                return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    '''))
    dist = tmp_path / "kg_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kg-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[kernelgan.backends]\nnearest-test = kg_test_plugin:Nearest\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available_backends()["nearest-test"] == "kg_test_plugin:Nearest"
    backend = get_backend("nearest-test")
    out = backend.upscale(np.zeros((4, 5, 3), np.float32), np.ones((3, 3)) / 9, 2)
    assert out.shape == (8, 10, 3)
    result = runner.invoke(app, ["backends"])
    assert "nearest-test" in result.output


def test_bicubic_backend_shape_and_range():
    lr = natural_image(20, 30)
    for scale in (2, 4):
        sr = get_backend("bicubic").upscale(lr, np.ones((1, 1)), scale)
        assert sr.shape == (20 * scale, 30 * scale, 3) and sr.dtype == np.float32
        assert 0 <= sr.min() and sr.max() <= 1


def test_residual_net_adds_its_output_to_the_input():
    import torch
    net = ResidualNet(channels=8, layers=4)
    x = torch.rand(1, 3, 10, 12)
    assert net(x).shape == x.shape and not torch.allclose(net(x), x)
    with torch.no_grad():
        net.convs[-1].weight.zero_()
        net.convs[-1].bias.zero_()
    assert torch.equal(net(x), x)  # the stack contributes nothing: the output is the (bicubic) input itself


def test_zssr_tiny_shape_range_and_x4():
    lr = natural_image(40, 48, seed=5)
    k = random_kernel(np.random.default_rng(0))
    zssr = get_backend("zssr")
    sr = zssr.upscale(lr, k, 2, max_iters=20, crop=32, channels=16, start="")
    assert sr.shape == (80, 96, 3) and 0 <= sr.min() and sr.max() <= 1
    sr4 = zssr.upscale(lr, k, 4, max_iters=10, crop=32, channels=16, start="")
    assert sr4.shape == (160, 192, 3)
    with pytest.raises(InputError):
        zssr.upscale(lr, k, 3)


def test_back_projection_makes_the_result_consistent_with_the_input():
    hr = natural_image(64, 64, seed=2).astype(np.float64)
    k = random_kernel(np.random.default_rng(1))
    lr, _ = degrade(hr, 2, k2=k)
    from kernelgan.resize import blur_downsample, imresize
    start = imresize(lr, 2)
    def err(x):
        return np.abs(blur_downsample(x, k, 2) - lr)[4:-4, 4:-4].mean()
    import torch
    def as_tensor(img):
        return torch.from_numpy(img.transpose(2, 0, 1))[None]
    projected = back_project(as_tensor(start), as_tensor(lr), k, 2, 4)
    assert err(projected[0].numpy().transpose(1, 2, 0)) < 0.5 * err(start)


def test_zssr_with_the_true_kernel_beats_bicubic_interpolation():
    hr = read_image(SAMPLES / "hr" / "zebra.png")[:128, :160]
    k = random_kernel(np.random.default_rng(4))
    lr, _ = degrade(hr, 2, k2=k)
    sr = get_backend("zssr").upscale(lr, k, 2, max_iters=120, crop=48, channels=32, seed=0)
    bic = get_backend("bicubic").upscale(lr, k, 2)
    assert psnr_y(sr, hr, shave=2) > psnr_y(bic, hr, shave=2) + 1.0


def test_sr_cli(tmp_path):
    out = tmp_path / "out"
    k = SAMPLES / "zebra_gt_kernel_x2.npy"
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), "--kernel", str(k), "--backend", "bicubic", "-o", str(out),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "ok"
    assert read_image(out / "zebra_x2_bicubic.png").shape == (390, 586, 3)
    # a folder of kernels named as estimate writes them; an image without one fails, the rest goes on
    kdir = tmp_path / "kernels"
    save_kernel(kdir / "zebra_kernel_x2.npy", np.load(k))
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), str(SAMPLES / "baboon.png"), "--kernels", str(kdir),
                            "--backend", "bicubic", "--scale", "4", "-o", str(out), "--json"])
    events = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert r.exit_code == 1 and [e["status"] for e in events] == ["ok", "failed"]
    assert (out / "zebra_x4_bicubic.png").exists()


@pytest.mark.parametrize("args", [
    ["--kernel", "missing.npy"],
    ["--kernel", "bad3d.npy"],
    ["--kernel", "neg.npy"],
    ["--kernel", "ok.npy", "--scale", "3"],
    ["--kernel", "ok.npy", "--backend", "nope"],
    [],
])
def test_sr_cli_bad_input_is_one_line(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    np.save("bad3d.npy", np.ones((2, 2, 2)))
    np.save("neg.npy", -np.ones((3, 3)))
    np.save("ok.npy", np.ones((3, 3)) / 9)
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), *args, "-o", "out"])
    assert r.exit_code == 2 and "Traceback" not in r.output and r.output.strip().count("\n") == 0


def test_estimate_with_sr_writes_the_upscale(tmp_path):
    img = read_image(SAMPLES / "zebra.png")[:96, :128]
    write_image(tmp_path / "a.png", img)
    r = runner.invoke(app, ["estimate", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--iters", "120",
                            "--sr", "bicubic", "-q"])
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "o" / "a_x2_bicubic.png").shape == (192, 256, 3)


def test_backend_options_are_checked_and_typed(tmp_path):
    from kernelgan.errors import InputError
    from kernelgan.sr.base import check_options, register

    srmd, zssr = get_backend("srmd"), get_backend("zssr")
    with pytest.raises(InputError, match="no option 'max_iters'"):
        check_options(srmd, {"max_iters": 5})
    assert check_options(zssr, {"crop": "128", "real": "yes", "seed": 3}) == {"crop": 128, "real": True, "seed": 3}
    with pytest.raises(InputError, match="not a int"):
        check_options(zssr, {"crop": "big"})
    with pytest.raises(ValueError, match="already registered"):
        register(type("Again", (), {"name": "srmd"}))
    k = str(SAMPLES / "zebra_gt_kernel_x2.npy")
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), "--kernel", k, "--backend", "srmd", "--iters", "5",
                            "--real", "-o", str(tmp_path)])
    assert r.exit_code == 2 and "no option" in r.output and not list(tmp_path.iterdir())
