#!/usr/bin/env bash
# Issue 18's tables on the embedded model. 1) How each verifier agrees with ShapesEval's scorer on generated
# images (pairwise accuracy per tag; per-check accuracy against the scorer's parser). 2) ShapesEval with the
# default policy and who answers its checks: the learned detector shapes-owl (the default), the exact parser
# (the scorer's own method in the loop: an oracle, an upper bound), shapes-clip alone (no checks), and the model
# alone (one plain sample); with mean NFE per prompt and how often the agent said "passed" for an image the
# scorer judges wrong. The suite is a second draw (seed 44): new images, but 25 of its 30 prompts are prompts of the
# shipped suite (seed 43 holds every possible prompt of five of its six tags), so it is not held out.
# Usage: bash benchmarks/verifier_bench.sh OUT_DIR [SUITE]
set -euo pipefail
out=${1:?usage: bash benchmarks/verifier_bench.sh OUT_DIR [SUITE]}
here=$(cd "$(dirname "$0")" && pwd)
suite=${2:-$here/suites/shapes-eval-seed44.jsonl}
mkdir -p "$out"
limner bench verifiers --suite "$suite" --samples 4 --results "$out/agreement.json" | tee "$out/agreement.txt"
limner bench shapes --suite "$suite" --samples 1 --results "$out/model-alone.json" | tee "$out/model-alone.txt"
limner bench shapes --suite "$suite" --samples 1 --policy default --results "$out/default.json" | tee "$out/default.txt"
for p in default-parser default-shapes-clip; do
  limner bench shapes --suite "$suite" --samples 1 --policy "$here/policies/$p.yaml" --results "$out/$p.json" \
    | tee "$out/$p.txt"
done
