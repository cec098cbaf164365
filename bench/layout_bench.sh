#!/usr/bin/env bash
# ShapesEval per tag for the layout issue: prompt-only, layout-only and layout + repair at equal NFE.
# Usage: bash bench/layout_bench.sh OUT_DIR [extra `limner bench shapes` options, e.g. --per-tag 4]
set -euo pipefail
out=${1:?usage: bash bench/layout_bench.sh OUT_DIR [options]}; shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for p in prompt-only-1x layout-only-1x prompt-only layout-only layout-repair; do
  limner bench shapes --policy "$here/policies/$p.yaml" --samples 1 --out "$out/$p.json" "$@" | tee "$out/$p.txt"
done
