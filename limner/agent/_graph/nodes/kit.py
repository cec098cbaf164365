"""What every node shares: the ``_node`` wrapper (announces the node, charges its wall time to the
``seconds`` budget), the event stream, budget charges and a candidate's record."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime


def _emit(event: dict) -> None:
    try:
        from langgraph.config import get_stream_writer

        get_stream_writer()(event)
    except RuntimeError:  # called outside a graph run
        pass


def _node(name: str):
    """Make ``fn(state, tb, policy)`` a LangGraph node ``node(state, runtime)``: the run's tools and its policy come
    from the runtime context (``graph.stream(..., context=RunContext)``), handed over separately; the node is announced on the stream and its
    wall time charged to the ``seconds`` budget."""

    def wrap(fn):
        def run(state: dict, runtime: Runtime) -> dict:  # LangGraph passes ``runtime`` by this parameter name
            runtime.context.tools.check_cancel(f"before the {name} step")
            _emit({"event": "node", "node": name})
            start = time.perf_counter()
            update = fn(state, runtime.context.tools, runtime.context.policy) or {}
            spent = dict(update.get("spent") or state["spent"])
            spent["seconds"] = round(spent["seconds"] + time.perf_counter() - start, 4)
            update["spent"] = spent
            return update

        run.__name__, run.__doc__, run.__qualname__ = fn.__name__, fn.__doc__, fn.__qualname__
        return run

    return wrap


def _charge(state: dict, **delta) -> dict:
    spent = dict(state["spent"])
    for key, value in delta.items():
        spent[key] = spent[key] + value
    return spent


def _settings(tb, extra: dict | None = None) -> dict:
    spec = tb.spec
    return {"steps": spec.steps, "guidance": spec.guidance, "width": spec.width, "height": spec.height,
            "scheduler": spec.scheduler, "device": tb.generator.device,
            "dtype": str(tb.generator.dtype).replace("torch.", ""), **(extra or {})}


def _record(tb, state, rnd: int, i: int, noise: dict, name: str, action: str, nfe: int, **extra) -> dict:
    spec, plan = tb.spec, state["plan"]
    seed = noise.get("seed", noise.get("root_seed", (noise.get("root") or {}).get("seed")))
    return {"id": f"r{rnd:02d}-c{i:02d}", "round": rnd, "index": i, "seed": seed, "noise": noise,
            "strategy": name, "action": action, "model": spec.source, "model_alias": spec.alias,
            "model_revision": spec.revision,
            "family": spec.family, "prompt": plan["rewritten_prompt"],
            "negative_prompt": plan.get("negative_prompt", ""), "plan_version": plan["version"], "nfe": nfe, **extra}


def _load_rgb(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")
