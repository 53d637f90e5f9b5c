"""ZSSR's published parts, each shown to act: torch resampling twins, father augmentation, kernel symmetries,
the self-ensemble's median, negative kernel lobes reaching the sons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernelgan.kernels import analytic_x4, anisotropic_gaussian, bicubic_kernel, centre_kernel, random_kernel
from kernelgan.resize import blur_downsample, imresize
from kernelgan.sr import get_backend, resample, zssr
from kernelgan.sr.fathers import Augmentation, FatherSampler, dihedral, kernel_symmetries, undo_dihedral
from kernelgan.sr.tiling import to_image, to_tensor
from kernelgan.sr.zssr import ResidualNet, ZSSRConfig, ensemble_output, median


def _t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img.transpose(2, 0, 1).copy())[None]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_torch_resampling_equals_the_numpy_reference(scale, monkeypatch):
    rng = np.random.default_rng(0)
    img = rng.random((23, 30, 3))
    up = resample.bicubic_upscale(_t(img), scale)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(up, imresize(img, scale), atol=1e-12)
    k = rng.standard_normal((9, 9))  # any sign
    monkeypatch.setattr(resample, "_BAND_BYTES", 4000)  # several bands of output rows
    down = resample.blur_downsample(_t(img), k, scale)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(down, blur_downsample(img, k, scale), atol=1e-12)


def test_rotations_flips_and_their_inverse():
    x = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    views = [dihedral(x, t) for t in range(8)]
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    for t in range(8):
        assert torch.equal(undo_dihedral(views[t], t), x)


def test_kernel_symmetries_follow_the_kernels_shape():
    assert kernel_symmetries(bicubic_kernel(2)) == tuple(range(8))
    iso = centre_kernel(anisotropic_gaussian(13, 2.0, 2.0, 0.0, (6, 6)), 2)
    assert kernel_symmetries(iso) == tuple(range(8))
    aligned = centre_kernel(anisotropic_gaussian(13, 6.0, 1.0, 0.0, (6, 6)), 2)
    assert kernel_symmetries(aligned) == (0, 2, 4, 6)  # half turn and the two mirrors, not the quarter turns
    tilted = centre_kernel(anisotropic_gaussian(13, 6.0, 1.0, 0.5, (6, 6)), 2)
    assert kernel_symmetries(tilted) == (0, 2)  # a Gaussian keeps its half-turn symmetry only
    assert zssr.allowed_transforms(tilted, "none") == (0,) and zssr.allowed_transforms(tilted, "all") == tuple(range(8))


def _crossings(rows: torch.Tensor) -> float:
    """Mean number of sign changes per row of a zero-mean stripe pattern."""
    s = torch.sign(rows - 0.5)
    return float((s[..., 1:] != s[..., :-1]).sum(-1).float().mean())


def test_scale_augmented_fathers_are_shrunk_copies_of_the_photo():
    x = torch.arange(400.0)
    stripes = (0.5 + 0.4 * torch.sin(2 * torch.pi * x / 6)).expand(3, 300, 400)[None].contiguous()
    plain = FatherSampler([(stripes, 1.0)], 64, None, (0,), np.random.default_rng(0)).draw(8)
    aug = Augmentation(leave_as_is=0.0, no_interpolate=0.0, min_scale=0.5, scale_diff_sigma=0.0, shear_sigma=0.0)
    shrunk = FatherSampler([(stripes, 1.0)], 64, aug, (0,), np.random.default_rng(0)).draw(32)
    assert shrunk.shape == (32, 3, 64, 64) and 0 <= shrunk.min() and shrunk.max() <= 1
    base = _crossings(plain[:, 0])
    ratios = [_crossings(f[0]) / base for f in shrunk]
    assert min(ratios) > 0.9 and max(ratios) < 2.1  # each father is the photo shrunk by 1..2x (scale 0.5..1)
    assert np.mean(ratios) > 1.2


def test_published_mix_of_fathers_and_determinism():
    img = to_tensor(np.random.default_rng(1).random((80, 90, 3)), torch.device("cpu"))
    a = FatherSampler([(img, 1.0)], 32, Augmentation(), (0, 2), np.random.default_rng(5)).draw(40)
    b = FatherSampler([(img, 1.0)], 32, Augmentation(), (0, 2), np.random.default_rng(5)).draw(40)
    assert torch.equal(a, b)
    # plain crops (leave as is / no interpolation) appear among them exactly as pixels of the photo
    windows = img.unfold(2, 32, 1).unfold(3, 32, 1)  # 1x3xNyxNxx32x32
    flat = windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, 32, 32)
    exact = sum(bool((flat == f).flatten(1).all(1).any()) or bool((flat == dihedral(f, 2)).flatten(1).all(1).any())
                for f in a)
    assert 8 <= exact <= 32  # about half of 40 are plain crops, the rest resampled


def test_self_ensemble_is_the_median_of_the_eight_outputs():
    torch.manual_seed(0)
    net = ResidualNet(channels=8, layers=3).eval()
    lr = to_tensor(np.random.default_rng(2).random((20, 24, 3)), torch.device("cpu"))
    config = ZSSRConfig(layers=3, tile=16, precision="fp32")
    out = ensemble_output(net, lr, bicubic_kernel(2), tuple(range(8)), 0, config)
    with torch.no_grad():
        members = [undo_dihedral(net(resample.bicubic_upscale(dihedral(lr, t), 2)), t).clamp(0, 1) for t in range(8)]
    expected = np.median(np.stack([m.numpy() for m in members]), axis=0)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    assert not torch.allclose(members[0], members[1], atol=1e-4)  # the members differ: the median acts
    assert torch.equal(median(torch.stack(members[:1])), members[0])


def test_input_offset_reads_the_input_centred_and_adds_the_residual_to_the_raw_input():
    torch.manual_seed(0)
    centred = ResidualNet(channels=8, layers=3, offset=0.5).eval()
    plain = ResidualNet(channels=8, layers=3).eval()
    plain.load_state_dict(centred.state_dict())
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        assert not torch.allclose(centred(x), plain(x), atol=1e-4)  # the offset acts
        # away from the zero padding (3 layers: 3 px), the uncentred network with the first bias lowered by
        # 0.5 x its weights' sums: a re-parametrisation, not another model
        plain.convs[0].bias -= 0.5 * plain.convs[0].weight.sum(dim=(1, 2, 3))
        torch.testing.assert_close(centred(x)[..., 3:-3, 3:-3], plain(x)[..., 3:-3, 3:-3], atol=1e-5, rtol=1e-5)
        # the residual is added to the input as it is, not to the centred input
        zero = ResidualNet(channels=8, layers=3, offset=0.5).eval()
        torch.nn.init.zeros_(zero.convs[-1].weight)
        torch.nn.init.zeros_(zero.convs[-1].bias)
        assert torch.equal(zero(x), x)
    assert zssr.PUBLISHED.input_offset == 0.0


def test_negative_kernel_lobes_reach_the_sons_unchanged(monkeypatch):
    seen: list[np.ndarray] = []
    original = zssr.sons_upscaled

    def spy(fathers, kernel, noise, scale=2):
        seen.append(torch.as_tensor(kernel).double().cpu().numpy())
        return original(fathers, kernel, noise, scale)

    monkeypatch.setattr(zssr, "sons_upscaled", spy)
    lr = np.random.default_rng(3).random((40, 48, 3)).astype(np.float32)
    k = bicubic_kernel(2)
    assert k.min() < 0
    get_backend("zssr").upscale(lr, k, 2, max_iters=3, crop=32, channels=8, start="")
    assert seen and all(np.allclose(s, k, atol=1e-12) for s in seen)


def test_zssr_is_deterministic_and_precisions_agree():
    lr = np.random.default_rng(4).random((40, 48, 3)).astype(np.float32)
    k = centre_kernel(random_kernel(np.random.default_rng(4)), 2)
    run = dict(max_iters=12, crop=32, channels=16, seed=1, start="")
    a = get_backend("zssr").upscale(lr, k, 2, precision="fp32", **run)
    b = get_backend("zssr").upscale(lr, k, 2, precision="fp32", **run)
    np.testing.assert_array_equal(a, b)
    c = get_backend("zssr").upscale(lr, k, 2, precision="bf16", **run)
    assert np.abs(a - c).mean() < 0.01  # bf16 autocast: the same method to rounding
    assert to_image(to_tensor(a, torch.device("cpu"))).shape == a.shape


def test_unknown_precision_or_symmetries_is_refused_before_work():
    from kernelgan.errors import InputError
    lr = np.zeros((16, 16, 3), dtype=np.float32)
    for bad in ({"precision": "fp16"}, {"symmetries": "some"}, {"x4_members": 0}):
        with pytest.raises(InputError, match="zssr"):
            get_backend("zssr").upscale(lr, bicubic_kernel(2), 2, **bad)


def test_reconstruction_test_tiles_cover_the_photo():
    img = to_tensor(np.random.default_rng(6).random((50, 70, 3)), torch.device("cpu"))
    k = bicubic_kernel(2)
    net_in, target = zssr.reconstruction_test(img, k, 20, 3)
    assert net_in.shape == target.shape == (9, 3, 20, 20)
    assert torch.equal(target[0], img[0, :, :20, :20]) and torch.equal(target[-1], img[0, :, -20:, -20:])
    whole_in, whole = zssr.reconstruction_test(img, k, 0, 3)
    assert torch.equal(whole, img) and whole_in.shape == img.shape
    assert torch.allclose(net_in[-1], whole_in[0, :, -20:, -20:])  # tiles of the whole photo's restoration


def test_gradual_fathers_come_from_the_photo_and_the_earlier_stage_output():
    photo = torch.full((1, 3, 60, 60), 0.25)
    x2_output = torch.full((1, 3, 120, 120), 0.75)
    sampler = FatherSampler([(photo, 1.0), (x2_output, 2.0)], 32, Augmentation(), (0,), np.random.default_rng(0))
    means = sampler.draw(300).mean(dim=(1, 2, 3))
    from_output = float((means > 0.5).float().mean())
    # a scale uniform in [0.5, 2]: above 1 (the x2 output) for 2/3 of the 95% that are not left as they are
    assert 0.55 < from_output < 0.72
    only_photo = FatherSampler([(photo, 1.0), (x2_output, 2.0)], 32, None, (0,), np.random.default_rng(0)).draw(20)
    assert torch.equal(only_photo, photo[..., :32, :32].expand(20, -1, -1, -1))  # without augmentation: the photo


def test_gradual_x4_trains_on_from_x2_with_the_x4_kernel_against_the_photo(monkeypatch):
    calls: list[tuple[int, int, tuple[int, ...]]] = []  # (scale, kernel size, fathers' shape)
    starts: list[dict] = []
    ends: list[dict] = []
    original_sons, original_train = zssr.sons_upscaled, zssr.train

    def spy_sons(fathers, kernel, noise, scale=2):
        calls.append((scale, torch.as_tensor(kernel).shape[0], tuple(fathers.shape)))
        return original_sons(fathers, kernel, noise, scale)

    def spy_train(sources, kernel, scale, net, *args, **kwargs):
        starts.append({k: v.clone() for k, v in net.state_dict().items()})
        gain = original_train(sources, kernel, scale, net, *args, **kwargs)
        ends.append({k: v.clone() for k, v in net.state_dict().items()})
        return gain

    monkeypatch.setattr(zssr, "sons_upscaled", spy_sons)
    monkeypatch.setattr(zssr, "train", spy_train)
    lr = np.random.default_rng(7).random((40, 44, 3)).astype(np.float32)
    k2 = centre_kernel(anisotropic_gaussian(13, 2.0, 1.5, 0.3, (6, 6)), 2)
    sr = get_backend("zssr").upscale(lr, k2, 4, max_iters=4, crop=32, channels=8, precision="fp32", start="")
    assert sr.shape == (160, 176, 3)
    k4_size = analytic_x4(k2).shape[0]
    assert {(s, size) for s, size, _ in calls} == {(2, k2.shape[0]), (4, k4_size)}
    # the x4 stage's reconstruction test is the photo itself, downscaled by 4 with the x4 kernel
    assert (4, k4_size, (1, 3, 40, 44)) in calls
    assert len(starts) == 2
    assert all(torch.equal(ends[0][k], starts[1][k]) for k in ends[0])  # trained on from the x2 stage's weights
    assert not all(torch.equal(starts[0][k], starts[1][k]) for k in starts[0])
    two_passes = get_backend("zssr").upscale(lr, k2, 4, max_iters=4, crop=32, channels=8, precision="fp32", start="",
                                             gradual=False)
    assert two_passes.shape == sr.shape and np.abs(two_passes - sr).mean() > 1e-4


def test_the_x4_stage_takes_its_own_step_budget(monkeypatch):
    """``x4_max_iters`` / ``x4_min_iters`` set the gradual x4 stage's steps; the x2 stage keeps ``max_iters``."""
    budgets: list[tuple[int, int, int]] = []  # (scale, max_iters, min_iters)
    original_train = zssr.train

    def spy_train(sources, kernel, scale, net, config, *args, **kwargs):
        budgets.append((scale, config.max_iters, config.min_iters))
        return original_train(sources, kernel, scale, net, config, *args, **kwargs)

    monkeypatch.setattr(zssr, "train", spy_train)
    lr = np.random.default_rng(7).random((40, 44, 3)).astype(np.float32)
    k2 = centre_kernel(anisotropic_gaussian(13, 2.0, 1.5, 0.3, (6, 6)), 2)
    options = {"max_iters": 3, "crop": 32, "channels": 8, "precision": "fp32", "start": ""}
    get_backend("zssr").upscale(lr, k2, 4, **options, x4_max_iters=5, x4_min_iters=7)
    get_backend("zssr").upscale(lr, k2, 4, **options)
    assert budgets == [(2, 3, 256), (4, 5, 7), (2, 3, 256), (4, 3, 256)]


def test_x4_members_train_the_x4_stage_again_from_the_x2_weights_and_average(monkeypatch):
    """``x4_members=2``: two x4 stages, each from the x2 stage's end weights with its own seed; the output is their
    mean, back-projected against the photo, so it differs from either member and is the same run to run."""
    starts: list[dict] = []
    ends: list[dict] = []
    outputs: list[torch.Tensor] = []
    original_train, original_stage = zssr.train, zssr.stage

    def spy_train(sources, kernel, scale, net, *args, **kwargs):
        starts.append({k: v.clone() for k, v in net.state_dict().items()})
        gain = original_train(sources, kernel, scale, net, *args, **kwargs)
        ends.append({k: v.clone() for k, v in net.state_dict().items()})
        return gain

    def spy_stage(sources, kernel, scale, *args, **kwargs):
        net, out = original_stage(sources, kernel, scale, *args, **kwargs)
        if scale == 4:
            outputs.append(out.clone())
        return net, out

    monkeypatch.setattr(zssr, "train", spy_train)
    monkeypatch.setattr(zssr, "stage", spy_stage)
    lr = np.random.default_rng(7).random((40, 44, 3)).astype(np.float32)
    k2 = centre_kernel(anisotropic_gaussian(13, 2.0, 1.5, 0.3, (6, 6)), 2)
    options = {"max_iters": 3, "crop": 32, "channels": 8, "precision": "fp32", "start": ""}
    sr = get_backend("zssr").upscale(lr, k2, 4, **options, x4_members=2)
    assert len(starts) == 3 and len(outputs) == 2
    for member in (1, 2):  # both x4 stages start where the x2 stage ended
        assert all(torch.equal(ends[0][k], starts[member][k]) for k in ends[0])
    assert not all(torch.equal(ends[1][k], ends[2][k]) for k in ends[1])  # other seeds, other networks
    expected = zssr.back_project((outputs[0] + outputs[1]) / 2, to_tensor(lr, torch.device("cpu")),
                                 analytic_x4(k2), 4, ZSSRConfig().back_projection)
    np.testing.assert_allclose(sr, to_image(expected).clip(0, 1), atol=1e-4)  # the backend re-centres the kernel
    assert min(np.abs(sr - to_image(o)).mean() for o in outputs) > 1e-3
    monkeypatch.setattr(zssr, "stage", original_stage)
    np.testing.assert_array_equal(get_backend("zssr").upscale(lr, k2, 4, **options, x4_members=2), sr)


def test_channels_last_is_the_same_network_in_another_memory_order():
    torch.manual_seed(0)
    plain = ResidualNet(channels=8, layers=3).eval()
    last = ResidualNet(channels=8, layers=3, channels_last=True).eval()
    last.load_state_dict(plain.state_dict())
    assert last.convs[1].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(last(x), plain(x), atol=1e-5, rtol=1e-5)


def test_the_x4_stage_finds_the_symmetries_of_the_x2_kernel_in_its_x4_kernel():
    for angle, expected in ((0.0, (0, 2, 4, 6)), (0.5, (0, 2))):
        k2 = centre_kernel(anisotropic_gaussian(13, 6.0, 1.0, angle, (6, 6)), 2)
        assert zssr.allowed_transforms(k2, "kernel") == expected
        assert zssr.allowed_transforms(analytic_x4(k2), "kernel", 4) == expected  # centred for x4, not x2
