"""The camera families (lens PSFs, camera shake, their combinations; in the prior's training) and the held-out
one (hand tremor; in no training): valid kernels, and the default estimator orders a narrow and a wide kernel of
each on the same photo."""

import numpy as np
import pytest

from conftest import SAMPLES
from kernelgan.estimator import estimate_kernel
from kernelgan.families import CAMERA, FAMILIES, GENERATORS, HELD_OUT, TRAINING, fixed_kernel, sample_kernel
from kernelgan.io import read_image
from kernelgan.kernel_shape import kernel_shape
from kernelgan.kernels import wanted_centre
from kernelgan.synth import crop_to_multiple, degrade


@pytest.mark.parametrize("family", [*CAMERA, *HELD_OUT])
def test_camera_and_held_out_kernels_are_valid_centred_and_varied(family):
    rng = np.random.default_rng(1)
    kernels = [sample_kernel(family, rng) for _ in range(50)]
    for k in kernels:
        assert k.shape == (11, 11) and k.min() >= 0 and abs(k.sum() - 1) < 1e-9
        ys, xs = np.indices(k.shape)
        centre = wanted_centre(11, 2)  # a wide PSF loses a little mass past the rim when centred
        assert abs((k * ys).sum() - centre) < 0.2 and abs((k * xs).sum() - centre) < 0.2
    sizes = [kernel_shape(k).size for k in kernels]
    assert max(sizes) > 3 * min(sizes)
    assert fixed_kernel(family).shape == (11, 11)


def test_held_out_families_stay_out_of_training_and_of_all():
    assert not set(HELD_OUT) & set(TRAINING) and set(FAMILIES) == set(GENERATORS)
    assert set(TRAINING) == set(GENERATORS) | set(CAMERA)


@pytest.mark.parametrize("family", [*CAMERA, *HELD_OUT])
def test_the_default_orders_a_narrow_and_a_wide_held_out_kernel_on_one_photo(family):
    rng = np.random.default_rng(0)
    kernels = [sample_kernel(family, rng) for _ in range(40)]
    sizes = [kernel_shape(k).size for k in kernels]
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    estimated = []
    for index in (int(np.argmin(sizes)), int(np.argmax(sizes))):
        lr, _ = degrade(hr, 2, kernel=kernels[index])
        lr = (np.round(lr * 255) / 255).astype(np.float32)
        estimated.append(kernel_shape(estimate_kernel(lr, 2).kernel_x2).size)
    narrow, wide = estimated
    assert wide > 2 * narrow  # measured: lens 1.5 vs 5.4 px² (true 1.0 vs 12.2), shake 1.6 vs 5.3 (1.2 vs 7.6)
