"""Every hyper-parameter of the estimator, defaulting to the paper's values (the paper; docs/ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class EstimatorConfig:
    # generator: a deep linear network, collapsed into one explicit kernel
    g_kernel_sizes: tuple[int, ...] = (7, 5, 3, 1, 1, 1)
    g_channels: int = 64
    g_init_gain: float = 0.5  # paper: 0.1; see docs/estimators.md (a 6-layer product of tiny weights can fail to grow)
    g_crop: int = 64  # G input crop; D input is G's output size
    # discriminator
    d_channels: int = 64
    d_kernel_size: int = 7
    d_blocks: int = 5  # 1x1 conv + BatchNorm + ReLU blocks
    d_init_gain: float = 0.1
    d_input_noise: float = 1.0 / 255.0
    # the early prior: the kernel G is pulled towards at the start ("bicubic" as the paper, or "learned": the
    # kernel the learned prior predicts from the image's spectrum, see prior.py)
    early_prior: str = "bicubic"
    prior_views: int = 1  # learned prior: 1, or 8 to average over the image's rotations and flips
    prior_weights: str = ""  # learned prior: a weights file from `kernelgan train-prior` ("": the shipped ones;
    # "shipped:prior_sharp": the shipped weights trained without softened photos)
    software_detector: str = ""  # learned prior: weights whose software head says whether the photo was downscaled
    # in software ("shipped": the shipped detector; "": none, unless the kernel network has that head)
    software_threshold: float = 0.8  # above this probability the estimate is MATLAB's bicubic kernel (lobes kept)
    plain_sampling_detector: str = ""  # learned prior: a network from `kernelgan train-plain-sampling` that says
    # whether the photo was shrunk in software without antialiasing ("shipped": the shipped one; "": none)
    plain_sampling_threshold: float = 0.95  # above this probability the estimate is that resampler's kernel (chosen on
    # the tuning photos)
    panel_margin: float = 0.0  # a panel of prior networks: another member than the first is chosen only when its
    # predicted size error is lower than the first's by more than this (RMS log size; docs/estimators.md)
    panel_wide_gate: bool = True  # a panel: a member whose kernel does not fit G's grid (a wide network's, more than
    # learned.OUTSIDE_MASS of it outside) takes the photo, whatever the confidences say (docs/estimators.md)
    direction_weights: str = ""  # learned prior: a network from `kernelgan train-direction` that adds the odd part a
    # power spectrum cannot show ("shipped": the shipped one; "": none; docs/estimators.md)
    direction_gate: float = 0.25  # ... added only where the odd part's absolute sum exceeds this (direction.GATE)
    # optimisation; 0 steps: no GAN, the estimate is the early prior's kernel
    iters: int = 250  # paper: 3000; chosen from the accuracy-vs-steps curve on DIV2KRK (docs/estimators.md)
    crops_per_step: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_step: int = 750
    lr_gamma: float = 0.1
    # kernel losses
    lambda_sum_to_one: float = 0.5
    lambda_boundaries: float = 0.5
    boundary_penalty: float = 30.0
    lambda_sparse_end: float = 5.0
    sparse_power: float = 0.2
    lambda_centre_end: float = 1.0
    # bicubic prior schedule
    lambda_bicubic: float = 5.0
    bicubic_start_decay_below: float = 0.4
    bicubic_start_decay_after: int = 3
    bicubic_decay_every: int = 200
    bicubic_decay_factor: float = 100.0
    lambda_bicubic_min: float = 5e-6
    constraints_on_below: float = 5e-3
    # post-processing
    clean: bool = True  # the paper's clean-up (below); centring is always done
    keep_largest: int = 40  # zero values under 0.75x the (keep_largest+1)-th largest
    keep_negative: bool = False  # keep negative lobes when centring (MATLAB's kernel from the software detector);
    # the GAN's are clipped, as in the paper
    # robustness
    max_retries: int = 2

    @property
    def kernel_size(self) -> int:
        """Receptive field of the generator = size of the learned kernel (13 for the paper's G)."""
        return sum(k - 1 for k in self.g_kernel_sizes) + 1

    @property
    def d_crop(self) -> int:
        """Size of G's output for a ``g_crop`` input, and so of D's real crops (26 for the paper's G)."""
        return (self.g_crop - self.kernel_size) // 2 + 1

    def with_options(self, options: dict[str, str]) -> EstimatorConfig:
        """A copy with fields set from ``KEY=VALUE`` strings (``estimate --opt``), typed like the defaults;
        an unknown key or a value of the wrong type is an InputError naming it."""
        from ..errors import InputError

        known = {f.name for f in fields(self)}
        changes: dict[str, object] = {}
        for key, text in options.items():
            if key not in known:
                raise InputError(f"the estimator has no setting {key!r} (settings: {', '.join(sorted(known))})")
            default = getattr(self, key)
            try:
                if isinstance(default, bool):
                    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError(text)
                    changes[key] = text.lower() in ("true", "1", "yes")
                elif isinstance(default, tuple):
                    changes[key] = tuple(type(default[0])(v) for v in text.split(","))
                else:
                    changes[key] = type(default)(text)
            except ValueError:
                raise InputError(f"estimator setting {key}={text!r} is not a {type(default).__name__}") from None
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_overrides(self, **changes) -> EstimatorConfig:
        return type(self)(**{**asdict(self), **{k: v for k, v in changes.items() if v is not None}})

    def to_dict(self) -> dict:
        return asdict(self)
