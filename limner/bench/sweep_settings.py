"""Choose shapes-tiny's recommended sampling settings: ShapesEval accuracy over a grid of settings.

    python -m limner.bench.sweep_settings --per-tag 8 --samples 2 --seed 1000

Uses seeds disjoint from `limner bench shapes` (which starts at 0), so the choice is not fitted to the
benchmark's own images. Prints one line per setting, best last.
"""

from __future__ import annotations

import argparse
import itertools
import json

from limner.bench.shapes import model_source, run_bench
from limner.tools.shapes.suite import limit_per_tag, load_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="shapes-tiny")
    ap.add_argument("--per-tag", type=int, default=8)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--guidance", default="2,4,6")
    ap.add_argument("--steps", default="20")
    ap.add_argument("--schedulers", default="DPMSolverMultistepScheduler,EulerDiscreteScheduler,DDIMScheduler")
    args = ap.parse_args()
    suite = limit_per_tag(load_suite(), args.per_tag)
    rows = []
    for sched, g, steps in itertools.product(args.schedulers.split(","), map(float, args.guidance.split(",")),
                                             map(int, args.steps.split(","))):
        src = model_source(args.model, device="cpu", guidance=g, steps=steps, scheduler=sched)
        s = run_bench(src, suite, samples=args.samples, seed=args.seed)["summary"]
        rows.append({"scheduler": sched, "guidance": g, "steps": steps, "overall": s["overall"], "tags": s["tags"]})
        print(json.dumps(rows[-1]), flush=True)
    best = max(rows, key=lambda r: r["overall"])
    print("best:", json.dumps(best))


if __name__ == "__main__":
    main()
