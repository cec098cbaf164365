"""The editing nodes: an edit's input round, region repair (inpainting) and variation (img2img).

Each edit round takes one parent candidate, makes ``n`` edited candidates with fresh seeds, and records in
every candidate's ``edit`` what was done (editor parameters, box or mask, the parent's path and sha256), so
``limner.agent.reproduce.regenerate`` can redo it from the parent's PNG.
"""

from __future__ import annotations

from limner.agent._graph.decide import round_size
from limner.agent._graph.nodes.kit import _load_rgb, _node, _settings
from limner.agent._graph.rounds import run_round, save_candidate


def _save_edited(tb, state: dict, rnd: int, batch: list[int], result, edit: dict, name: str, action: str) -> list[dict]:
    """Save a batch of edited candidates; ``edit`` says how, and names the parent."""
    editor = result.params["editor"]
    return [save_candidate(tb, state, rnd, i, im, {"kind": editor, "seed": seed}, name, action,
                           result.nfe // len(batch), sampler=editor, parent=edit["parent"], edit=edit,
                           settings=_settings(tb))
            for i, (seed, im) in enumerate(zip(batch, result.images))]


def _edit_round(tb, policy, state: dict, name: str, parent_id: str, edit, passes: int = 1) -> dict:
    """Run ``edit(parent, image, seeds) -> (EditResult, record extra, log params)`` as one round.

    ``passes``: how many generations one edited candidate costs (a move erases, then paints: 2).
    """
    n, _ = round_size(state, tb, policy)
    if passes > 1:
        n = min(n, (policy.budgets.nfe - state["spent"]["nfe"]) // (passes * tb.spec.nfe_per_candidate()))

    def make(rnd: int, seeds) -> tuple[list[dict], dict]:
        parent = next(c for c in state["candidates"] if c["id"] == parent_id)
        image = _load_rgb(tb.store.dir / parent["path"])
        batch = seeds.take(n)
        result, extra, params = edit(parent, image, batch)
        record_edit = {**result.params, "parent": parent["id"], "parent_path": parent["path"],
                       "parent_sha256": parent["sha256"], **extra}
        records = _save_edited(tb, state, rnd, batch, result, record_edit, name, name)
        return records, {"round": rnd, "strategy": name, "action": name, "nfe": result.nfe,
                         "nfe_charged": result.nfe, "seconds": round(result.seconds, 4),
                         "params": {**params, "candidates": n}}

    return run_round(tb, state, make)


@_node("repair")
def repair(state: dict, tb, policy) -> dict:
    """One round of region repair: the best candidate's first localisable failure, inpainted with fresh seeds."""
    from limner.agent._graph.repair import repair_targets
    from limner.tools.editing import EditResult, box_mask_image, inpaint

    nfe_left = policy.budgets.nfe - state["spent"]["nfe"]
    directive = state.get("directive") or {}
    target = directive.get("target") or repair_targets(state, nfe_left, tb.spec.nfe_per_candidate(),
                                                       policy.population)[0]
    negative = state["plan"].get("negative_prompt", "")
    # a mask's edit (the brief's, or one a person painted in a chat) repaints only inside the mask
    within = target.get("within") or ("mask.png" if state["brief"].get("mask") else None)

    def edit(parent, image, batch):
        extra = {"box": target["box"], "target": {k: target[k] for k in ("object", "status", "why", "expect")
                                                  if k in target},
                 **({"within": within} if within else {})}
        params = {"parent": parent["id"], "box": target["box"], "phrase": target["phrase"], "why": target["why"]}
        erased, size = None, image.size
        if target.get("erase"):  # a move: repaint the object's box with the background, first
            erase = target["erase"]
            erased = inpaint(tb.generator, image, box_mask_image(image.size, erase["box"]),
                             erase["prompt"] or tb.spec.erase_prompt, batch, negative_prompt=negative)
            image = erased.images
            extra["erase"] = {**erased.params, "box": erase["box"]}
            params["erase_box"] = erase["box"]
        grounding = None if tb.spec.caps.lacks("grounded") else [
            {"phrase": target["phrase"], "box": target.get("ground") or target["box"]}]
        params["grounded"] = grounding is not None
        mask = box_mask_image(size, target["box"])
        if within:
            mask = inside(mask, tb.store.dir / within)
        phrase = target["phrase"] or tb.spec.erase_prompt  # a removal: the background, no object
        if not target["phrase"]:
            grounding, params["grounded"] = None, False
        strength = 1.0
        if target.get("recolor"):  # keep the shape, change its colour: a model told the box keeps it anyway
            strength = policy.recolor_strength if grounding is None else policy.grounded_recolor_strength
        negative_here = negative
        if tb.spec.edit_avoid and target.get("avoid"):  # what an added object is not: the others' names
            said = {p.strip() for p in negative.split(",")}
            negative_here = ", ".join([*([negative] if negative else []),
                                       *(n for n in target["avoid"] if n not in said)])
        result = inpaint(tb.generator, image, mask, phrase,
                         batch, negative_prompt=negative_here, grounding=grounding, strength=strength)
        if erased is not None:
            result = EditResult(images=result.images, nfe=erased.nfe + result.nfe,
                                seconds=erased.seconds + result.seconds, params=result.params)
        return result, extra, params

    update = _edit_round(tb, policy, state, "repair", target["parent"], edit, passes=2 if target.get("erase") else 1)
    tried = {"parent": target["parent"], "object": target["object"], "round": update["round"]}
    return {**update, "repairs": list(state.get("repairs", [])) + [tried]}



NO_STRUCTURE = ("outlines: this model's alias has no structure check (restyle_structure: calibrated on the shapes "
                "world alone), so a restyle is checked by its objects' places and the plan's checks only")


@_node("variation")
def variation_node(state: dict, tb, policy) -> dict:
    """One round of variations of the best candidate (img2img at the policy's strength)."""
    from limner.tools.editing import instruct, variation
    from limner.tools.images import sha256_file

    plan = state["plan"]

    def again(parent, image, batch):  # an instruction model: the instruction on the input, fresh seeds
        result = instruct(tb.generator, _load_rgb(tb.store.dir / "input.png"), state["brief"]["prompt"], batch)
        source = {"parent": "input", "parent_path": "input.png",
                  "parent_sha256": sha256_file(tb.store.dir / "input.png")}
        return result, source, {"parent": "input", "instruction": state["brief"]["prompt"]}

    keep = (state.get("directive") or {}).get("keep")  # a chat's restyle: the objects stay where they are
    restyle = keep is not None  # (none found in the image restyled: nothing to keep is known, so none is checked)

    def edit(parent, image, batch):
        result = variation(tb.generator, image, plan["rewritten_prompt"], batch,
                           strength=policy.variation_strength, negative_prompt=plan.get("negative_prompt", ""))
        extra = {"target": {"object": "person:restyle", "status": "requested", "why": "the person asked for a "
                            "new style", "expect": {"kept": keep},
                            **({} if tb.spec.restyle_structure else {"unchecked": NO_STRUCTURE})}} if restyle else {}
        return result, extra, {"parent": parent["id"], "strength": policy.variation_strength}

    def region_again(parent, image, batch):  # an edit of a region: the region repainted again, fresh seeds
        result, record = repaint_region(tb, state, batch)
        return result, record, {"parent": "input", "region": record.get("box") or record.get("mask_path")}

    if tb.spec.caps.guidance == "instruction":
        return _edit_round(tb, policy, state, "variation", state["best_id"], again)
    if state["brief"].get("box") or state["brief"].get("mask"):
        return _edit_round(tb, policy, state, "variation", state["best_id"], region_again)
    # a chat's restyle names the image it restyles (its retries too); else the best candidate so far
    return _edit_round(tb, policy, state, "variation", (state.get("directive") or {}).get("parent") or state["best_id"],
                       edit)


def inside(mask, person_mask_path):
    """``mask`` where the person's mask also is (the darker of the two)."""
    from PIL import ImageChops

    from limner.tools.editing import load_mask

    return ImageChops.darker(mask, load_mask(person_mask_path, mask.size))


def repaint_region(tb, state: dict, batch: list[int]):
    """The user's image with the region they marked (mask or box) repainted with ``batch``'s seeds: the
    ``EditResult`` and what the candidate records about it (the region, the input it started from)."""
    from limner.tools.editing import box_mask_image, inpaint, load_mask
    from limner.tools.images import sha256_file

    brief, plan = state["brief"], state["plan"]
    image = _load_rgb(tb.store.dir / "input.png")
    source = {"parent": "input", "parent_path": "input.png", "parent_sha256": sha256_file(tb.store.dir / "input.png")}
    if brief.get("mask"):
        mask, where = load_mask(tb.store.dir / "mask.png", image.size), {"mask_path": "mask.png"}
    else:
        mask, where = box_mask_image(image.size, brief["box"]), {"box": list(brief["box"])}
    result = inpaint(tb.generator, image, mask, region_prompt(plan, mask), batch,
                     negative_prompt=plan.get("negative_prompt", ""))
    return result, {**result.params, **where, **source, "target": {"why": "the region the user marked"}}



def input_round(tb, state, n: int):
    """``make`` for an edit's first round: the user's image as it is, or (with a mask or box) that region
    repainted, or (an instruction model) the instruction applied to it."""
    import time

    from limner.tools.editing import instruct
    from limner.tools.images import sha256_file

    def make(rnd: int, seeds) -> tuple[list[dict], dict]:
        start = time.perf_counter()
        brief = state["brief"]
        image = _load_rgb(tb.store.dir / "input.png")
        source = {"parent": "input", "parent_path": "input.png",
                  "parent_sha256": sha256_file(tb.store.dir / "input.png")}
        if tb.spec.caps.guidance == "instruction":
            batch = seeds.take(n)
            result = instruct(tb.generator, image, brief["prompt"], batch)
            edit = {**result.params, **source, "target": {"why": "the user's instruction"}}
            records = _save_edited(tb, state, rnd, batch, result, edit, "instruct", "input")
            nfe, params = result.nfe, {"input": "input.png", "instruction": brief["prompt"], "candidates": n}
        elif not (brief.get("box") or brief.get("mask")):
            records = [save_candidate(tb, state, rnd, 0, image, {"kind": "input", "sha256": source["parent_sha256"]},
                                      "input", "input", 0, sampler="input", settings=_settings(tb))]
            nfe, params = 0, {"input": "input.png"}
        else:
            batch = seeds.take(n)
            result, edit = repaint_region(tb, state, batch)
            where = {k: edit[k] for k in ("mask_path", "box") if k in edit}
            records = _save_edited(tb, state, rnd, batch, result, edit, "repair", "input")
            nfe, params = result.nfe, {"input": "input.png", **where, "prompt": result.params["prompt"],
                                       "candidates": n}
        return records, {"round": rnd, "strategy": "input", "action": "input", "params": params, "nfe": nfe,
                         "nfe_charged": nfe, "seconds": round(time.perf_counter() - start, 4)}

    return make


def region_prompt(plan: dict, mask) -> str:
    """What to paint in a marked region: the phrase of the layout region it overlaps most, else the whole prompt."""
    from limner.agent.layout import overlap

    bbox = mask.getbbox()
    w, h = mask.size
    box = [bbox[0] / w, bbox[1] / h, bbox[2] / w, bbox[3] / h]
    regions = (plan.get("layout") or {}).get("regions", [])
    scored = [(overlap(box, r["box"]), r["phrase"]) for r in regions]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] > 0 else plan["rewritten_prompt"]
