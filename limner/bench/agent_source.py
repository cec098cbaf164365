"""The agent as a ShapesEval source: each prompt and seed is one full run under a policy; its final image is scored.

    from limner.bench.agent_source import agent_source
    from limner.bench.shapes import run_bench
    run_bench(agent_source("layout"), suite, samples=1)
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def agent_source(policy: str, model: str | None = None, out: str | Path | None = None):
    """``source(metadata, seeds) -> [final images]``; ``source.runs`` keeps every run's spend and stop reason."""
    from PIL import Image

    from limner.agent.runner import run

    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="limner-bench-"))
    runs: list[dict] = []

    def source(metadata: dict, seeds: list[int]) -> list:
        images = []
        for seed in seeds:
            result = run(metadata["prompt"], out=folder, policy=policy, model=model, seed=seed)
            if result.final_path is None:
                raise RuntimeError(f"run {result.run_id} made no image: {result.stop_reason}")
            with Image.open(result.final_path) as im:
                images.append(im.convert("RGB"))
            runs.append({"prompt": metadata["prompt"], "tag": metadata["tag"], "seed": seed, "run_id": result.run_id,
                         "status": result.status, "score": result.score, "nfe": result.nfe, "rounds": result.rounds,
                         "seconds": result.seconds, "stop_reason": result.stop_reason})
        return images

    source.runs = runs  # type: ignore[attr-defined]
    source.describe = lambda: {"policy": policy, "model": model or "default", "runs_dir": str(folder)}  # type: ignore[attr-defined]
    return source
