"""One round's lifecycle, shared by every node that makes candidates (generate, repair, variation, an edit's
input round).

``run_round`` reuses a round a killed run saved whole; else it calls the node's ``make(rnd, seeds)``, which
saves each candidate with ``save_candidate`` (PNG, then record) as it is made, and marks the round complete
with its log. Either way it announces the round and charges the budgets what the round cost when it ran.
``strategy_round`` is ``make`` for a search strategy (the agent's first round included): candidates a
killed run already saved are not made again.
"""

from __future__ import annotations

import time
from typing import Callable

from limner.agent._graph.nodes.kit import _charge, _emit, _record, _settings


def run_round(tb, state: dict, make: Callable) -> dict:
    """Run (or reuse) round ``state["round"] + 1``; ``make(rnd, seeds) -> (records, log)``. Returns the update."""
    from limner.tools.search import SeedSource

    rnd = state["round"] + 1
    seeds = SeedSource(state["base_seed"], state["seed_cursor"])
    saved = tb.store.saved_round(rnd)
    if saved is not None:
        records, log = saved["records"], saved["log"]
        seeds.cursor = log["seed_cursor"]
        tb.store.event({"event": "round_reused", "round": rnd})
    else:
        records, log = make(rnd, seeds)
        log = {"verifier_calls": 0, "memo": {}, **log, "candidates": [r["id"] for r in records],
               "seed_cursor": seeds.cursor}
        tb.store.save_round(rnd, records, log)
    _emit({"event": "generated", "round": rnd, "n": len(records), "strategy": log["strategy"],
           "reused": len(records) if saved is not None else 0, "layout": log.get("layout")})
    # a reused round is charged what it cost when it ran: budgets count all work
    return {"pending": records, "round": rnd, "seed_cursor": seeds.cursor, "rounds_log": [log],
            "last_round": {"n": max(1, len(records)), "start": state["spent"]["seconds"]},
            "spent": _charge(state, nfe=log["nfe_charged"], rounds=1, verifier_calls=log["verifier_calls"])}


def save_candidate(tb, state: dict, rnd: int, i: int, image, noise: dict, strategy: str, action: str, nfe: int,
                   **extra) -> dict:
    """Save candidate ``i`` of round ``rnd``: its PNG, then its record (the manifest entry that reproduces it)."""
    from limner.tools.images import png_bytes

    record = _record(tb, state, rnd, i, noise, strategy, action, nfe, **extra)
    return tb.store.save_candidate(record, png_bytes(image))


def strategy_round(tb, policy, state: dict, strategy, ctx, n: int, action: str, layout: dict) -> Callable:
    """``make`` for ``run_round``: one round of ``strategy`` within the NFE left; each candidate it finds saved
    with its noise (a noise file too, for reno), the pipeline batch it was made in and, for a round made from
    the plan's layout, ``layout`` (``{"grounded": args}`` or ``{"regional": args}``: how to make it again)."""
    from limner.tools.generators.noise import save_noise

    def make(rnd: int, seeds) -> tuple[list[dict], dict]:
        start = time.perf_counter()
        ids = [f"r{rnd:02d}-c{i:02d}" for i in range(n)]
        on_disk: dict[int, dict | None] = {}  # what a killed run saved of this round, read once per candidate

        def saved(i: int) -> dict | None:
            if i not in on_disk:
                on_disk[i] = tb.store.saved_candidate(ids[i]) if i < n else None
            return on_disk[i]

        ctx.seeds = seeds
        ctx.saved = lambda i: saved(i) is not None
        nfe_left = policy.budgets.nfe - state["spent"]["nfe"]
        history = [{k: c.get(k) for k in ("id", "noise", "score", "sampler")} for c in state.get("candidates", [])]
        memo = (state.get("search_memo") or {}).get(strategy.name, {})
        result = strategy.round(ctx, n, nfe_left, history, memo)
        lost = (result.oom or {}).get("lost_nfe", 0)
        made = [f for f in result.found if f is not None]
        per = (result.nfe - lost) // max(1, len(made))
        records = []
        for i, found in enumerate(result.found):
            cid = f"r{rnd:02d}-c{i:02d}"
            if found is None:  # saved before a kill: reused as it is
                records.append(saved(i))
                continue
            noise = found.noise
            if found.tensor is not None:
                rel = f"candidates/{cid}.noise.safetensors"
                noise = {**save_noise(found.tensor, tb.store.dir / rel), "path": rel}
            extra = {"sampler": found.sampler, "details": found.details, "settings": _settings(tb, found.settings)}
            if found.batch is not None:  # the pipeline call that made it: rerun it to reproduce the candidate
                extra["batch_noise"] = found.batch
                if all("seed" in b for b in found.batch):
                    extra["batch_seeds"] = [b["seed"] for b in found.batch]
            extra.update(layout)
            records.append(save_candidate(tb, state, rnd, i, found.image, noise, strategy.name, action, per, **extra))
        reused = sum(r["nfe"] for f, r in zip(result.found, records) if f is None)  # made before a kill
        if lost:
            _emit({"event": "notice", "text": f"out of memory with {len(made)} candidates at once: split into "
                   f"batches of {result.oom['batch']} ({lost} forward passes lost)"})
        log = {"round": rnd, "strategy": strategy.name, "action": action, "params": result.params,
               "nfe": result.nfe + reused, "nfe_charged": result.nfe_charged + reused, "nfe_this_process": result.nfe,
               "verifier_calls": result.verifier_calls, "seconds": round(time.perf_counter() - start, 4),
               "memo": result.memo}
        if result.oom:
            log["out_of_memory"] = result.oom
        return records, log

    return make
