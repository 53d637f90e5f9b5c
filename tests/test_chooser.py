"""The panel's chooser (kernelgan/estimator/chooser.py): fitted to which member's kernel was best, it picks the
member for a photo from the members' own reports; ``train-chooser`` fits one from suite runs."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES
from kernelgan.errors import InputError
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.chooser import REPORT, ChooserWeights, fit_chooser, member_features
from kernelgan.estimator.config import EstimatorConfig
from kernelgan.families import sample_kernel
from kernelgan.io import read_image
from kernelgan.synth import crop_to_multiple, degrade
from kernelgan_cli.app import app

MEMBERS = ["shipped:prior", "shipped:prior_sharp", "shipped:prior_camera"]


def _report(error: float, size: float) -> tuple[dict[str, float], float]:
    return {"predicted_size_error": error, "size_error_bias": 0.0, "predicted_redeg_psnr": 50.0,
            "view_size_spread": 0.05}, size


def test_member_features_read_each_members_report_and_size_against_the_first():
    reports, sizes = zip(*(_report(0.2, 2.0), _report(0.4, 8.0)), strict=True)
    f = member_features(list(reports), list(sizes)).reshape(2, len(REPORT))
    assert f[0, REPORT.index("log_size_vs_first")] == 0.0
    assert np.isclose(f[1, REPORT.index("log_size_vs_first")], np.log(4.0))
    assert f[1, REPORT.index("predicted_size_error")] == 0.4
    assert f[0, REPORT.index("predicted_redeg_psnr")] == 5.0  # read in tens of dB


def test_a_fitted_chooser_follows_what_made_a_member_best_and_the_bonus_keeps_the_first():
    rng = np.random.default_rng(0)
    # member 1 is better exactly where its kernel is larger than member 0's; member 2 never is
    cases, redeg = [], []
    for _ in range(400):
        s0, s1, s2 = np.exp(rng.normal(1.0, 0.5, 3))
        reports, sizes = zip(*(_report(rng.uniform(0.1, 0.5), s) for s in (s0, s1, s2)), strict=True)
        cases.append(member_features(list(reports), list(sizes)))
        redeg.append([50.0, 50.0 + (4.0 if s1 > s0 else -4.0), 45.0])
    chooser = fit_chooser(np.array(cases), np.array(redeg), MEMBERS)
    picks = [chooser.choose(x, 0.0) for x in cases]
    wanted = [int(np.argmax(r)) for r in redeg]
    assert np.mean(np.array(picks) == np.array(wanted)) > 0.9
    assert 2 not in picks
    assert all(chooser.choose(x, 100.0) == 0 for x in cases[:20])  # a large bonus: always the first


def test_a_chooser_round_trips_and_a_foreign_file_is_refused_by_name(tmp_path):
    chooser = ChooserWeights(np.zeros(18), np.ones(18), np.zeros((18, 3)), np.array([0.0, 1.0, 0.0]), MEMBERS)
    chooser.save(tmp_path / "c.json")
    back = ChooserWeights.load(tmp_path / "c.json")
    assert back.members == MEMBERS and np.array_equal(back.bias, chooser.bias)
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="bad.json"):
        ChooserWeights.load(tmp_path / "bad.json")


@pytest.fixture(scope="module")
def lens_photo() -> np.ndarray:
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    lr, _ = degrade(hr, 2, kernel=sample_kernel("lens", np.random.default_rng(4)))
    return (np.round(lr * 255) / 255).astype(np.float32)


def _config(chooser: str, members: list[str] = MEMBERS) -> EstimatorConfig:
    return EstimatorConfig(early_prior="learned", prior_views=8, iters=0, clean=False, keep_negative=True,
                           software_detector="shipped", prior_weights=",".join(members), panel_chooser=chooser,
                           panel_chooser_bonus=0.0)


def test_the_estimator_takes_the_member_its_chooser_scores_highest(tmp_path, lens_photo):
    for member in (1, 2):
        bias = np.zeros(3)
        bias[member] = 10.0
        path = tmp_path / f"to{member}.json"
        ChooserWeights(np.zeros(18), np.ones(18), np.zeros((18, 3)), bias, MEMBERS).save(path)
        panel = estimate_kernel(lens_photo, 2, config=_config(str(path)), device="cpu")
        alone = estimate_kernel(lens_photo, 2, config=_config("", [MEMBERS[member]]), device="cpu")
        assert panel.quality["prior_member"] == member
        assert np.allclose(panel.kernel_x2, alone.kernel_x2)


def test_a_chooser_for_another_panel_is_refused(tmp_path, lens_photo):
    path = tmp_path / "other.json"
    ChooserWeights(np.zeros(12), np.ones(12), np.zeros((12, 2)), np.zeros(2), MEMBERS[:2]).save(path)
    with pytest.raises(InputError, match="other.json"):
        estimate_kernel(lens_photo, 2, config=_config(str(path)), device="cpu")


def test_train_chooser_fits_a_file_from_suite_runs(tmp_path):
    rng = np.random.default_rng(1)
    names = ["a", "b", "c"]
    cases = []
    for i in range(60):
        quality = {n: {"predicted_size_error": float(rng.uniform(0.1, 0.5)), "size_error_bias": 0.0,
                       "predicted_redeg_psnr": 50.0, "view_size_spread": 0.1} for n in names}
        rows = {n: {"size": float(rng.uniform(1, 9)), "redeg_psnr": float(rng.uniform(40, 60))} for n in names}
        cases.append({"photo": f"p{i}", "quality": quality, "rows": rows})
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"cases": cases}))
    out = tmp_path / "chooser.json"
    args = ["train-chooser", str(run), "-o", str(out), "--estimators", "a,b,c", "--panel", ",".join(MEMBERS)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert ChooserWeights.load(out).members == MEMBERS
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "--force" in again.output  # not overwritten
    wrong = CliRunner().invoke(app, [*args[:-4], "--estimators", "a,b", "--force"])
    assert wrong.exit_code != 0 and "members" in wrong.output
