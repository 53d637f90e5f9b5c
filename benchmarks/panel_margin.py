"""How large the panel's margin should be: replays the panel's choice for a range of margins on the kernels each
member estimated on its own, from ``benchmarks/suite.py --json`` runs of the members (same cases).

The panel (``prior-panel``) keeps its first member's kernel unless another member's confidence network predicts
a size error smaller by more than the margin. A member's kernel does not depend on the panel, so one suite run of
the members scores every margin. The margin is chosen on the tuning photos by the rule "the highest mean
re-degradation PSNR among the margins with no classical family (at any photo sharpness) below the first member
alone"; the suite's runs are only reported.

    for s in 0 1 2; do for p in 1 0.5 2; do
      python benchmarks/suite.py --set tuning \\
        --families div2krk,sharp,bicubic,motion,defocus,lens,shake,combo,tremor,div2krk+noise,shake-wide,tremor-wide \\
        --estimators prior,prior-sharp,prior-camera,prior-wide --no-sr --prescale $p --seed $s --json tuning_${p}_$s.json
    done; done
    python benchmarks/panel_margin.py tuning_*.json

Runs of the same cases (the same set, seed and prescale) are merged case by case, so another member can be tried
from a run of it alone: ``--members prior,prior-sharp,prior-camera,prior-wide`` with runs of the first three plus runs of
``--estimators prior-wide`` (how prior-wide was added, 2026-12-03).

Before the margin, the shipped panel hands a photo to a member whose own kernel does not fit G's 13x13 grid
(``learned.panel_choice``: prior-wide's, more than ``OUTSIDE_MASS`` of it outside); the replay does the same from
each member's ``outside_mass`` (recorded by runs since 2026-12-03); ``--no-wide-gate`` replays the panel without.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from kernelgan.estimator.learned import panel_choice
from kernelgan.families import FAMILIES

MEMBERS = ("prior", "prior-sharp", "prior-camera", "prior-wide")  # registry.PANEL's networks, in its order
MARGINS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, float("inf"))


def choose(case: dict, margin: float, members: tuple[str, ...] = MEMBERS, wide_gate: bool = True) -> str:
    """The member the panel takes for ``case`` at ``margin`` (the first when the software detector answered);
    ``wide_gate``: as the shipped panel, a member whose kernel does not fit G's grid takes the photo."""
    errors = [case["quality"][m].get("predicted_size_error") for m in members]
    if any(e is None for e in errors):
        return members[0]
    outside = [case["quality"][m].get("outside_mass", 0.0) for m in members] if wide_gate else None
    return members[panel_choice(errors, margin, outside)]


def sweep(cases: list[dict], members: tuple[str, ...] = MEMBERS, wide_gate: bool = True) -> list[dict]:
    """Per margin: mean re-degradation PSNR, and the worst classical cell (sharpness x family) against the first
    member alone (dB; negative: the panel is worse there)."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for case in cases:
        cells.setdefault((case["prescale"], case["family"]), []).append(case)
    out = []
    for margin in MARGINS:
        redeg = {id(c): c["rows"][choose(c, margin, members, wide_gate)]["redeg_psnr"] for c in cases}
        gaps = [float(np.mean([redeg[id(c)] - c["rows"][members[0]]["redeg_psnr"] for c in group]))
                for (_, family), group in cells.items() if family in FAMILIES]
        out.append({"margin": margin, "redeg_psnr": float(np.mean(list(redeg.values()))),
                    "worst_classical": min(gaps, default=0.0),
                    "classical_cells_1db_under": sum(g < -1 for g in gaps),
                    "shares": {m: float(np.mean([choose(c, margin, members, wide_gate) == m for c in cases]))
                               for m in members}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+",
                        help="suite.py --json files with the members' rows (runs of the same cases, e.g. one per "
                             "member, are merged case by case)")
    parser.add_argument("--members", default=",".join(MEMBERS),
                        help="the panel's estimators, the one the margin keeps first (default: the shipped panel's)")
    parser.add_argument("--no-wide-gate", action="store_true",
                        help="the panel before 2026-12-03 (3): confidences and margin only, no wide-kernel gate")
    args = parser.parse_args()
    members = tuple(m.strip() for m in args.members.split(","))
    merged: dict[tuple, dict] = {}
    for path in args.runs:
        run = json.loads(path.read_text())
        prescale, seed = run["args"].get("prescale", "1.0"), run["args"].get("seed")
        for case in run["cases"]:
            key = (case["photo"], case["family"], prescale, seed)
            known = merged.setdefault(key, {**case, "prescale": prescale, "rows": {}, "quality": {}})
            known["rows"].update(case["rows"])
            known["quality"].update(case["quality"])
    cases = [c for c in merged.values() if all(m in c["rows"] for m in members)]
    if not cases:
        raise SystemExit(f"no case has the rows of {', '.join(members)}")
    rows = sweep(cases, members, not args.no_wide_gate)
    print(f"{len(cases)} images from {len(args.runs)} runs ({len(merged) - len(cases)} cases without every member left out)")
    print("| margin | mean re-deg. PSNR (dB) | worst classical cell vs prior (dB) | classical cells > 1 dB under | "
          "chosen: " + " / ".join(members) + " |")
    print("|---|---|---|---|---|")
    for r in rows:
        shares = " / ".join(f"{100 * r['shares'][m]:.0f}%" for m in members)
        print(f"| {r['margin']} | {r['redeg_psnr']:.2f} | {r['worst_classical']:.2f} | "
              f"{r['classical_cells_1db_under']} | {shares} |")
    allowed = [r for r in rows if r["worst_classical"] >= 0]
    best = max(allowed, key=lambda r: r["redeg_psnr"])
    print(f"\nthe rule's margin: {best['margin']} (highest mean with no classical cell below {members[0]} alone)")


if __name__ == "__main__":
    main()
