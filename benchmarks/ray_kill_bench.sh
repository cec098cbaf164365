#!/usr/bin/env bash
# `limner batch --ray --workers 2` on 20 briefs (ShapesEval, 4 per tag), one worker SIGKILLed once 6 briefs are
# done; then the check that every brief finished exactly once: one run folder, one summary row, every saved
# candidate once in its events, manifest and candidates/ folder.
# Usage: bash benchmarks/ray_kill_bench.sh OUT_DIR
set -euo pipefail
out=${1:?usage: bash benchmarks/ray_kill_bench.sh OUT_DIR}
mkdir -p "$out"
python - "$out/briefs.jsonl" <<'PY'
import json, sys
from limner.tools.shapes.suite import limit_per_tag, load_suite
open(sys.argv[1], "w").write("".join(json.dumps(m) + "\n" for m in limit_per_tag(load_suite(), 4)[:20]))
PY
rm -rf "$out/batch"
limner batch "$out/briefs.jsonl" --out "$out/batch" --ray --workers 2 >"$out/batch.txt" 2>"$out/batch.err" &
batch=$!
done_jobs() { python -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(r['status']!='pending' for r in d['jobs']))" "$out/batch/summary.json" 2>/dev/null || echo 0; }
until [ "$(done_jobs)" -ge 6 ]; do sleep 0.2; kill -0 $batch 2>/dev/null || { echo "the batch ended before the kill"; exit 1; }; done
victim=$(pgrep -f "^ray::BatchWorker.run" | head -1)
echo "SIGKILL worker $victim after $(done_jobs) briefs"
kill -9 "$victim"
wait $batch && echo "limner batch exited 0" || echo "limner batch exited $?"
tail -3 "$out/batch.txt"
python - "$out/batch" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
s = json.loads((out / "summary.json").read_text())
rows, runs = s["jobs"], sorted(p.name for p in (out / "runs").iterdir())
print("runner:", {k: s["runner"][k] for k in ("workers", "retries", "start_seconds", "shared_fs")})
print("retried:", [(r["run_id"], r["attempts"], r["worker"]) for r in rows if r["attempts"] > 1])
assert len(rows) == 20 and len({r["run_id"] for r in rows}) == 20, "a brief lost or doubled in the summary"
assert runs == sorted(r["run_id"] for r in rows), "run folders and summary rows differ"
for r in runs:
    saved = [json.loads(line)["id"] for line in (out / "runs" / r / "events.jsonl").read_text().splitlines()
             if '"candidate_saved"' in line]
    manifest = json.loads((out / "runs" / r / "manifest.json").read_text())
    pngs = list((out / "runs" / r / "candidates").glob("*.png"))
    assert len(saved) == len(set(saved)) == len(manifest["candidates"]) == len(pngs), r
print(f"checked: 20 briefs, 20 run folders, 20 rows, every candidate saved once ({s['totals']})")
PY
