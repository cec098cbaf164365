#!/usr/bin/env bash
# ShapesEval per tag on the embedded model: the prompt alone, regional attention and grounded generation from
# the rules planner's layout, at one sample (40 NFE) and at 160 NFE with the same seeds; then the default
# policy with 160 NFE, its checks answered by the exact parser (an oracle), by the learned shapes-owl (the
# default), and with shapes-clip alone choosing. Every run scores its final image with ShapesEval's rules. The
# `prompt-only`, `regional`, `grounded` and `default-160-parser` rows pick among candidates with checks that the
# exact parser, ShapesEval's own scorer, answers: an oracle in the loop (an upper bound on what a detector or VLM
# gives); `default-160` asks shapes-owl, `default-160-clip` chooses with shapes-clip alone.
# Usage: bash benchmarks/grounding_bench.sh OUT_DIR [extra `limner bench shapes` options for the 160 NFE runs]
set -euo pipefail
out=${1:?usage: bash benchmarks/grounding_bench.sh OUT_DIR [options]}; shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for p in prompt-only-1x regional-1x grounded-1x; do
  limner bench shapes --policy "$here/policies/$p.yaml" --samples 1 --results "$out/$p.json" | tee "$out/$p.txt"
done
for p in prompt-only regional grounded default-160-parser default-160 default-160-clip; do
  limner bench shapes --policy "$here/policies/$p.yaml" --samples 1 --results "$out/$p.json" "$@" | tee "$out/$p.txt"
done
