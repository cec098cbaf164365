"""The run's manifest (everything needed to understand and reproduce it) and the final image."""

from __future__ import annotations

import functools
import json
import platform
import time
from importlib import metadata

from limner.agent._run.checks import check_tally
from limner.agent._run.migrations import MANIFEST
from limner.agent.plan import upgrade_plan

_PACKAGES = ("limner", "torch", "diffusers", "transformers", "langgraph", "pydantic", "openai", "pillow")


@functools.lru_cache(maxsize=1)
def _versions() -> tuple:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return tuple(out.items())


def versions() -> dict:
    """Package versions, read once per process (importlib.metadata scans the path on every call: ~13 ms)."""
    return dict(_versions())


def build_manifest(state: dict, tb) -> dict:
    from limner.agent.candidate import validated

    best = next((c for c in state.get("candidates", []) if c["id"] == state.get("best_id")), None)
    return {
        "schema": MANIFEST,
        "run_id": state["run_id"],
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": state.get("status", "running"),
        "stop_reason": state.get("stop_reason"),
        "brief": state["brief"],
        "policy": state["policy"],
        "model": state["model"],
        "weights": tb._generator.describe() if tb._generator is not None and tb._generator._pipe is not None else None,
        "planner": (state.get("plan") or {}).get("planner"),
        "plan": upgrade_plan(state.get("plan")),  # a run resumed from an earlier schema's checkpoint
        "plans": [upgrade_plan(p) for p in state.get("plans", [])],
        "verifiers": [v.describe() if hasattr(v, "describe") else {"name": ref.name}
                      for ref, v in (tb.verifiers(state.get("plan")) if tb._verifiers is not None else [])]
                     or [r.model_dump() for r in tb.refs],
        "llm": tb.llm.describe() if tb.llm is not None else None,
        "candidates": [validated(c) for c in state.get("candidates", []) + list(state.get("pending") or [])],
        "best": {"id": best["id"], "score": best["score"], "path": best["path"], "checks": check_tally(best)}
        if best else None,
        "final": state.get("final"),
        "report": state.get("report") or {},
        "rounds": rounds_summary(state),
        "decisions": state.get("decisions", []),
        "chat": state.get("chat", []),
        "budgets": {"limits": state["policy"]["budgets"] | {"rounds": state["policy"]["max_rounds"]},
                    "spent": state["spent"]},
        "base_seed": state["base_seed"],
        "versions": versions(),
        "reproduce": "each candidate regenerates from its entry with `limner.agent.reproduce.regenerate(entry, run_dir)`: "
                     "same model, settings and prompt, and its initial noise rebuilt from the entry's noise spec "
                     "(seeds drawn on the CPU, zero-order neighbour chains, or the saved noise file); pipeline "
                     "candidates rerun with their batch (batch_noise), loop candidates through Limner's loop",
    }


def rounds_summary(state: dict) -> list[dict]:
    """Per round: the strategy, its parameters, the NFE it spent and the best score so far."""
    scores = {c["id"]: c["score"] for c in state.get("candidates", [])}
    out, best, best_id = [], None, None
    for log in state.get("rounds_log", []):
        for cid in log["candidates"]:
            if cid in scores and (best is None or scores[cid] > best):
                best, best_id = scores[cid], cid
        out.append({k: log[k] for k in ("round", "strategy", "action", "params", "nfe", "nfe_charged",
                                        "verifier_calls", "seconds", "candidates")}
                   | {"regional": log.get("regional", log.get("layout", "").startswith("regional generation:")),
                      "grounded": log.get("grounded", False), "layout": log.get("layout"),
                      "best_id_so_far": best_id, "best_score_so_far": best}
                   | ({"out_of_memory": log["out_of_memory"]} if "out_of_memory" in log else {}))
    return out


def png_parameters(best: dict) -> str:
    """An A1111-style 'parameters' text, readable by common image tools."""
    s = best["settings"]
    text = best["prompt"]
    if best.get("negative_prompt"):
        text += f"\nNegative prompt: {best['negative_prompt']}"
    text += (f"\nSteps: {s['steps']}, CFG scale: {s['guidance']}, Seed: {best.get('seed')}, "
             f"Size: {s['width']}x{s['height']}, Model: {best['model']}")
    return text


def write_final(store, best: dict, state: dict) -> str:
    """Copy the best candidate to ``final.png`` with the prompt and settings in PNG text chunks."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from limner.agent._run.store import atomic_write_bytes
    from limner.tools.images import png_bytes

    src = store.dir / best["path"]
    info = PngInfo()
    info.add_text("parameters", png_parameters(best))
    info.add_text("limner", json.dumps({"run_id": state["run_id"], "candidate": best, "brief": state["brief"]}))
    with Image.open(src) as im:
        atomic_write_bytes(store.dir / "final.png", png_bytes(im.convert("RGB"), pnginfo=info, compress_level=6))
    return "final.png"


def write_layout_overlay(store, best: dict, plan: dict, scale: int = 4) -> str | None:
    """``layout.png``: the best candidate with the plan's boxes drawn over it and each region's phrase."""
    from PIL import Image, ImageDraw

    from limner.agent._run.store import atomic_write_bytes
    from limner.tools.images import png_bytes

    layout = (plan or {}).get("layout")
    if not layout:
        return None
    with Image.open(store.dir / best["path"]) as im:
        w, h = im.size
        k = max(1, min(scale, 1024 // max(w, h)))
        canvas = im.convert("RGB").resize((w * k, h * k), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    colours = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
    for i, region in enumerate(layout["regions"]):
        x0, y0, x1, y1 = region["box"]
        c = colours[i % len(colours)]
        draw.rectangle([x0 * w * k, y0 * h * k, x1 * w * k - 1, y1 * h * k - 1], outline=c, width=2)
        draw.text((x0 * w * k + 3, y0 * h * k + 2), region["phrase"][:60], fill=c)  # PIL refuses very long strings
    atomic_write_bytes(store.dir / "layout.png", png_bytes(canvas))
    return "layout.png"
