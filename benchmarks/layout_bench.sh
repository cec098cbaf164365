#!/usr/bin/env bash
# ShapesEval per tag: prompt-only, layout-only, layout + repair and prompt + repair at equal NFE (one plain
# sample = 40 NFE; 160 NFE = 4), then the before/after grid of repairs.
# Usage: bash benchmarks/layout_bench.sh OUT_DIR [extra `limner bench shapes` options, e.g. --per-tag 4]
set -euo pipefail
out=${1:?usage: bash benchmarks/layout_bench.sh OUT_DIR [options]}; shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for p in prompt-only-1x layout-only-1x prompt-only layout-only layout-repair prompt-repair; do
  limner bench shapes --policy "$here/policies/$p.yaml" --samples 1 --results "$out/$p.json" "$@" | tee "$out/$p.txt"
done
python -m limner.bench.repair_grid "$out/layout-repair.json" --out "$out/repair-grid.png" --limit 12
