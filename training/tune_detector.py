"""Choose a trained shapes-owl's threshold and colour mode on images it never trained on, and write them into its folder.

The images are new; their prompts are not held out (a draw of seed 45 shares 20 of its 24 prompts with the shipped
suite, which holds every possible prompt of five of its six tags).

    python -m training.tune_detector --folder /tmp/owl --suite-seed 45 --per-tag 4 --samples 4

Images: ``shapes-tiny``'s samples for a ShapesEval draw (``--suite-seed``, kept apart from the shipped suite's
43 and the benchmark draw's 44). For each threshold, NMS overlap and colour mode, the share of the plan's checks whose
verdict equals the one the scorer's parser gives (``limner bench verifiers``' per-check accuracy); the best
setting goes to ``limner_detector.json`` with the world's colours (the only ones the detector was taught), the
whole sweep to ``train_info.json`` under ``tuning``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def choose(check_accuracy: dict, pairwise: dict) -> dict:
    """The row with the most checks as the scorer, then the best pairwise accuracy; ties go to the largest NMS
    overlap (0.5, the usual), then the lower threshold, then colour by the detector (one model, no CLIP)."""
    def key(row: str):
        color, _, rest = row.partition("@")
        threshold, _, nms = rest.partition("/nms")
        return (check_accuracy[row]["all"], pairwise[row] or 0, float(nms), -float(threshold), color == "detector")

    color, _, rest = max(check_accuracy, key=key).partition("@")
    threshold, _, nms = rest.partition("/nms")
    return {"threshold": float(threshold), "nms": float(nms), "color": color}


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, required=True)
    ap.add_argument("--suite-seed", type=int, default=45)
    ap.add_argument("--per-tag", type=int, default=4)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6")
    ap.add_argument("--nms", default="0.15,0.3,0.5", help="IoU above which a weaker box of the same phrase goes")
    args = ap.parse_args(argv)

    from limner.bench.agreement import agreement
    from limner.bench.shapes import model_source
    from limner.agent.planners.rules import rules_plan
    from limner.tools.shapes.suite import make_suite
    from limner.tools.shapes.world import COLORS, SHAPES
    from limner.tools.verifiers import make_verifier
    from limner.tools.verifiers.detector import SETTINGS_FILE

    suite = make_suite(seed=args.suite_seed, per_tag=args.per_tag)
    rows = {}
    for color in ("detector", "clip"):
        for t in [float(x) for x in args.thresholds.split(",")]:
            for n in [float(x) for x in args.nms.split(",")]:
                rows[f"{color}@{t:g}/nms{n:g}"] = make_verifier(
                    "questions", answerer="detector", detector=str(args.folder), threshold=t, nms=n, color=color,
                    clip="builtin:shapes-clip", colors=list(COLORS), plan_fn=rules_plan)
    start = time.perf_counter()
    result = agreement(rows, suite, model_source("shapes-tiny"), samples=args.samples, seed=0)
    seconds = round(time.perf_counter() - start, 1)
    acc = {k: result["check_accuracy"][k]["all"] for k in rows}
    settings = {**choose(result["check_accuracy"], result["pairwise_accuracy"]), "colors": list(COLORS),
                "vocabulary": list(SHAPES)}  # what it was taught: any other name is no answer, not a guess
    (args.folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    info_path = args.folder / "train_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info["tuning"] = {"command": "python -m training.tune_detector " + " ".join(argv), "prompts": len(suite),
                      "images": len(suite) * args.samples, "seconds": seconds, "chosen": settings,
                      "check_accuracy": result["check_accuracy"], "pairwise_accuracy": result["pairwise_accuracy"]}
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    for k in rows:
        count = result["check_accuracy"][k].get("count", 0)
        print(f"{k:<22} checks {acc[k]:.3f} (counts {count:.3f})  pairwise {result['pairwise_accuracy'][k] or 0:.3f}")
    print(f"chosen: {settings} ({seconds}s)")


if __name__ == "__main__":
    main()
