"""Rescore a compose agent bench's final images with the current parser: accuracy and false passes per arm.

    python benchmarks/results/compose/rescore.py RESULTS.json tools/shapes/data/compose_<split>.jsonl [RUNS_DIR]

The runs folder (the bench's --runs) must still hold the finals; the suite must be the one the bench ran."""
import json, sys
from pathlib import Path
from collections import defaultdict
from limner.tools.shapes.geneval import score_image
from PIL import Image
res = json.load(open(sys.argv[1])); suite = [json.loads(l) for l in open(sys.argv[2])]
runs = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(res["runs_dir"])
for arm, a in res["arms"].items():
    for pol, rows in a["rows"].items():
        if pol != "default": continue
        ok = fp = passed = changed = 0; tags = defaultdict(lambda: [0, 0]); fps = []
        for r in rows:
            img = Image.open(runs / r["run_id"] / "final.png").convert("RGB")
            c = score_image(img, suite[r["prompt"]])["correct"]
            changed += c != r["correct"]
            ok += c; tags[r["tag"]][0] += c; tags[r["tag"]][1] += 1
            if r["status"] == "passed":
                passed += 1
                if not c: fp += 1; fps.append((r["tag"], suite[r["prompt"]]["prompt"], r["run_id"]))
        print(arm, pol, f"overall {ok/len(rows):.3f}", f"FP {fp}/{passed}", "changed", changed, {t: round(v[0]/v[1], 3) for t, v in tags.items()})
        for f in fps: print("   FP", f)
