"""Start and resume runs: the public ``run`` / ``resume`` functions behind the CLI and the Python API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field, ValidationError

from limner.agent.brief import Brief
from limner.agent.candidate import Candidate
from limner.agent.config import Settings, load_settings
from limner.agent.errors import Cancelled, LimnerError, UsageError
from limner.agent.policy import Policy, load_policy
from limner.agent._run.store import (RunStore, check_home, check_writable, disk_full, find_run, new_run_id,
                                     register_run, valid_run_id)
from limner.tools.generators import ModelSpec, resolve_model
from limner.tools.verifiers import VERIFIERS

DEFAULT_OUT = "limner-runs"


class RunResult(BaseModel):
    run_id: str
    run_dir: str
    status: str  # passed, best_effort, unverified (nothing failed, some checks no verifier could answer), failed, cancelled (asked to stop), running, waiting (for a person's answer: see ``question``)
    stop_reason: str | None
    final_path: str | None
    best_id: str | None
    score: float | None
    manifest_path: str
    rounds: int
    nfe: int
    llm_calls: int
    seconds: float
    question: dict | None = None  # what a waiting run asks (an interactive run stops here until ``answer``)
    checks: dict | None = None  # the best candidate's plan checks: {"passed": n, "of": answered, "failed": [...]}
    candidates: list[Candidate] = Field(default_factory=list, repr=False)  # every candidate so far, scored ones with their verdicts (best: ``best_id``)


@dataclass
class Setup:
    brief: Brief
    policy: Policy
    spec: ModelSpec
    planner_kind: str


def make_brief(prompt: str | None = None, **fields) -> Brief:
    data = {k: v for k, v in fields.items() if v is not None}
    if prompt is not None:
        data["prompt"] = prompt
    try:
        return Brief(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise UsageError(f"{where}: {msg}" if where and where not in msg else msg) from None


def prepare(brief: Brief, settings: Settings) -> Setup:
    """Validate everything a run needs before anything is written. Raises ``UsageError`` (one line)."""
    from limner.tools.generators.diffusers_backend import ModelUnavailable, check_available, check_device_dtype

    problem = check_device_dtype(settings.device, settings.dtype)
    if problem is not None:
        raise UsageError(problem)
    if brief.image is None:  # a brief that contradicts itself is refused before anything is written
        from limner.agent.planners.rules import check_brief

        check_brief(brief.prompt)  # raises PlanContradiction (a UsageError) naming the two relations
    policy = load_policy(brief.policy)
    overrides = {"threshold": brief.threshold, "max_rounds": brief.max_rounds,
                 "candidates_per_round": brief.candidates, "planner": brief.planner}
    try:
        policy = Policy.model_validate(policy.model_dump() | {k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    try:
        spec = resolve_model(brief.model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = spec.with_overrides(**policy.generation.model_dump()).with_overrides(
        width=brief.width, height=brief.height, steps=brief.steps, guidance=brief.guidance)
    if brief.image is not None:
        spec = spec.with_overrides(**_edit_size(brief))
        if (brief.box is not None or brief.mask is not None) and spec.caps.lacks("inpaint"):
            raise UsageError(f"{spec.alias}: {spec.caps.lacks('inpaint')}; use --model with an SD, SDXL, SD3 or FLUX "
                             "model to repaint a region")
    elif brief.box is not None or brief.mask is not None:
        raise UsageError("--box and --mask mark a region of an image to edit: use them with `limner edit`")
    if spec.caps.lacks("text_to_image") and brief.image is None:
        what = '"INSTRUCTION"' if spec.caps.guidance == "instruction" else '"PROMPT" --box x0,y0,x1,y1'
        raise UsageError(f"{spec.alias}: {spec.caps.lacks('text_to_image')}: use `limner edit IMAGE {what}`")
    if spec.caps.guidance == "instruction":
        if brief.box is not None or brief.mask is not None:
            raise UsageError(f"{spec.alias} edits the whole image: drop --box/--mask, or use a text-to-image model")
    try:
        check_available(spec)
    except ModelUnavailable as exc:
        raise UsageError(str(exc)) from None
    _check_verifier_weights(policy, spec, brief)
    from limner.agent.planners import resolve_kind

    kind = resolve_kind(policy.planner, settings.llm_configured)
    from limner.tools.verifiers import Where

    no_llm = Where.of(spec, llm=False)  # a verifier that still calls an LLM without one needs an endpoint
    needs_llm = [v.name for v in policy.verifiers if VERIFIERS[v.name].prepare(v.options, no_llm).uses_llm]
    if (kind == "llm" or needs_llm) and not settings.llm_configured:
        what = "the llm planner" if kind == "llm" else f"the verifier {needs_llm[0]}"
        raise UsageError(f"policy '{policy.name}' uses {what} but no LLM endpoint is configured: "
                         "set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL (or OPENAI_API_KEY)")
    if kind == "llm" and policy.budgets.llm_calls < 1:
        raise UsageError(f"policy '{policy.name}' uses the llm planner with an LLM call budget of 0")
    if settings.llm_configured:  # the least a plan and one scored candidate can take, before anything runs
        with_llm = Where.of(spec, llm=True)
        least = (kind == "llm") + sum(VERIFIERS[v.name].prepare(v.options, with_llm).llm_calls(1)
                                      for v in policy.verifiers)
        if policy.budgets.llm_calls < least:
            raise UsageError(f"policy '{policy.name}' allows {policy.budgets.llm_calls} LLM calls, but planning and "
                             f"scoring one candidate take at least {least}: raise budgets.llm_calls")
    cost = spec.nfe_per_candidate()
    if policy.budgets.nfe < cost:
        raise UsageError(f"NFE budget {policy.budgets.nfe} is smaller than one candidate's cost ({cost}) "
                         f"with {spec.alias}")
    return Setup(brief=brief, policy=policy, spec=spec, planner_kind=kind)


def _check_verifier_weights(policy: Policy, spec: ModelSpec, brief: Brief) -> None:
    """Every verifier's weights are on disk, or can be fetched: else one line naming ``limner pull``."""
    from limner.tools.generators.model_files import hub_unreachable, offline
    from limner.tools.verifiers import required_weights
    from limner.tools.verifiers.requirements import is_present, world_of

    world = world_of(spec.source)
    for ref in policy.verifiers:
        missing = [w for w in required_weights(ref.name, ref.options, world) if not is_present(w)]
        if not missing:
            continue
        pull = f"run `limner pull {brief.model or spec.alias} --policy {brief.policy}` once online"
        if offline():
            raise UsageError(f"verifier {ref.name} needs {missing[0]}, which is not in the local Hugging Face cache "
                             f"and HF_HUB_OFFLINE=1: {pull} (or set its weights in the policy)")
        unreachable = hub_unreachable()
        if unreachable:
            raise UsageError(f"verifier {ref.name} needs {missing[0]}, which is not in the local Hugging Face cache, "
                             f"and {unreachable}: {pull}")


def _read_image(path: str, what: str):
    from limner.tools.images import read_input_image

    try:
        return read_input_image(path, what)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _edit_size(brief: Brief) -> dict:
    """The generation size an edit runs at (the image's own), after checking the image, mask and box."""
    image = _read_image(brief.image, "image")
    w, h = image.size
    if w % 8 or h % 8:
        raise UsageError(f"image {brief.image} is {w}x{h}: edits need sides that are multiples of 8")
    if brief.box is not None and brief.mask is not None:
        raise UsageError("give --box or --mask, not both")
    if brief.mask is not None:
        from limner.tools.editing import load_mask

        try:
            load_mask(Path(brief.mask).expanduser(), (w, h))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return {"width": w, "height": h}


def _copy_inputs(brief: Brief, store: RunStore) -> None:
    """An edit's image (and mask) go into the run folder, so the run is complete and resumable on its own."""
    from limner.agent._run.store import atomic_write_bytes
    from limner.tools.images import png_bytes

    image = _read_image(brief.image, "image")
    atomic_write_bytes(store.dir / "input.png", png_bytes(image, compress_level=6))
    if brief.mask is not None:
        from limner.tools.editing import load_mask

        mask = load_mask(Path(brief.mask).expanduser(), image.size)
        atomic_write_bytes(store.dir / "mask.png", png_bytes(mask, compress_level=6))


def _config(run_id: str, policy: Policy) -> dict:
    return {"configurable": {"thread_id": run_id}, "recursion_limit": policy.recursion_limit()}


def _result(store: RunStore, values: dict, question: dict | None = None) -> RunResult:
    from limner.agent._run.checks import check_tally

    spent = values.get("spent") or {}
    final = values.get("final")
    best = next((c for c in values.get("candidates") or [] if c["id"] == values.get("best_id")), None)
    if question is not None and "run_dir" in question:
        question = {**question, "run_dir": str(store.dir)}  # the folder it is in now (it may have been moved)
    return RunResult(
        run_id=values["run_id"], run_dir=str(store.dir), question=question,
        status="waiting" if question is not None else values.get("status", "running"),
        stop_reason=values.get("stop_reason"), final_path=str(store.dir / final) if final else None,
        best_id=values.get("best_id"), score=values.get("best_score"), manifest_path=str(store.manifest_path),
        rounds=spent.get("rounds", 0), nfe=spent.get("nfe", 0), llm_calls=spent.get("llm_calls", 0),
        seconds=spent.get("seconds", 0.0), checks=check_tally(best) if best is not None else None,
        candidates=values.get("candidates") or [],
    )


def _settled(store: RunStore, graph, config, tb=None) -> RunResult:
    """The run's result after the graph stopped: finished, or waiting at an interrupt for a person's answer
    (then its manifest is written as it stands, so that what the person is asked about is on disk: every
    candidate with its checks, the plan, the conversation)."""
    snapshot = graph.get_state(config)
    interrupts = getattr(snapshot, "interrupts", ()) or ()
    if interrupts and tb is not None and snapshot.values.get("run_id"):
        from limner.agent._run.manifest import build_manifest

        store.write_manifest(build_manifest({**snapshot.values, "status": "waiting"}, tb))
    return _result(store, snapshot.values, interrupts[0].value if interrupts else None)


def _drive(store: RunStore, graph_input: dict | None, values: dict, settings: Settings,
           on_event: Callable[[dict], None] | None, cancel: Callable[[], bool] | None = None) -> RunResult:
    from limner.agent._graph.build import shared_graph
    from limner.agent._run.manifest import build_manifest, write_final
    from limner.agent._graph.toolbox import RunContext

    # a run folder is self-contained: the folder opened is where the run goes on, wherever it was started (the
    # checkpoint's run_dir is where it was made; a moved or copied folder must not write back there)
    run = RunContext.of({**values, "run_dir": str(store.dir)}, settings, cancel=cancel)
    tb = run.tools
    config = _config(values["run_id"], run.policy)
    with store.checkpointer() as saver:
        graph = shared_graph(saver)
        snapshot = graph.get_state(config)
        # finished: no task left. ``next`` alone is not enough: it leaves out a task whose writes were saved
        # before a kill took the step's checkpoint, and the stream below applies those writes and goes on
        if graph_input is None and not snapshot.tasks:
            return _result(store, snapshot.values)
        if graph_input is not None and not isinstance(graph_input, dict) and not snapshot.interrupts:
            raise UsageError(f"run '{values['run_id']}' is not waiting for an answer")
        try:
            for chunk in graph.stream(graph_input, config, context=run, stream_mode="custom", durability="sync"):
                if on_event is not None:
                    on_event(chunk)
        except Cancelled as exc:
            return _cancelled(store, graph.get_state(config).values, str(exc), tb, on_event)
        except (LimnerError, RuntimeError, OSError) as exc:
            if disk_full(exc):
                raise  # nothing more can be written: ``RunStore.space_for`` says so in one line
            state = graph.get_state(config).values
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            failed = {**state, "status": "failed", "stop_reason": reason + " (the run is checkpointed: resume it)"}
            if state.get("best_id"):  # still hand back the best candidate so far
                best = next(c for c in state["candidates"] if c["id"] == state["best_id"])
                failed["final"] = write_final(store, best, state)
            store.write_manifest(build_manifest(failed, tb))
            store.event({"event": "failed", "reason": reason})
            return _result(store, failed)
        return _settled(store, graph, config, tb)


def _cancelled(store: RunStore, state: dict, reason: str, tb, on_event) -> RunResult:
    """A run stopped on request: ``cancelled``, its best candidate so far returned, its checkpoint kept (``resume``
    goes on from the last step that finished)."""
    from limner.agent._run.manifest import build_manifest, write_final

    ended = {**state, "status": "cancelled", "stop_reason": f"{reason} (checkpointed: resume it to go on)"}
    if state.get("best_id"):
        best = next(c for c in state["candidates"] if c["id"] == state["best_id"])
        ended["final"] = write_final(store, best, state)
    store.write_manifest(build_manifest(ended, tb))
    store.event({"event": "cancelled", "reason": reason})
    if on_event is not None:
        on_event({"event": "cancelled", "reason": reason, "best_id": state.get("best_id")})
    return _result(store, ended)


def run(prompt: str | None = None, *, out: str | Path = DEFAULT_OUT, on_event: Callable[[dict], None] | None = None,
        settings: Settings | None = None, device: str | None = None, dtype: str | None = None,
        offload: str | None = None, run_id: str | None = None, interactive: bool = False, cancel: Callable[[], bool] | None = None,
        **brief_fields) -> RunResult:
    """Run the agent on a prompt and return the best candidate. ``brief_fields`` are ``Brief`` fields.

    ``interactive``: the run stops at its plan and after each round with ``status == "waiting"`` and a
    ``question``; continue it with ``answer(run_id, text)``. ``run_id``: a chosen id (letters, digits, ``-``,
    ``_``); its folder must not exist yet. ``cancel``: called at every denoising step and node; when it returns
    True the run stops there and ends ``cancelled`` (its candidates and checkpoint kept).
    """
    from limner.agent._graph.state import empty_spent

    settings = settings or load_settings()
    if device or dtype or offload:
        if offload not in (None, "model", "sequential"):
            raise UsageError(f"--offload must be model or sequential, not {offload!r}")
        settings = settings.model_copy(update={k: v for k, v in {"device": device, "dtype": dtype,
                                                                 "offload": offload}.items() if v})
    brief = make_brief(prompt, **brief_fields)
    setup = prepare(brief, settings)
    out = Path(out).expanduser()
    check_writable(out)
    check_home()
    if run_id is None:
        run_id = new_run_id()
    elif not valid_run_id(run_id):
        raise UsageError(f"run id '{run_id}' may only hold letters, digits, '-' and '_'")
    store = RunStore(out / run_id)
    if store.dir.exists():
        raise UsageError(f"run folder {store.dir} already exists: resume it or choose another run id")
    with store.space_for(run_id, fresh=True):
        store.dir.mkdir(parents=True)
        if brief.image is not None:
            _copy_inputs(brief, store)
        register_run(run_id, store.dir, brief.prompt)
        values = {
            "run_id": run_id, "run_dir": str(store.dir.resolve()), "brief": brief.model_dump(),
            "policy": setup.policy.model_dump(), "model": setup.spec.to_dict(), "planner_kind": setup.planner_kind,
            "base_seed": brief.seed if brief.seed is not None else secrets.randbelow(2**31),
            "spent": empty_spent(), "candidates": [], "decisions": [], "plans": [], "interactive": interactive,
        }
        return _drive(store, values, values, settings, on_event, cancel)


def resume(run: str, *, on_event: Callable[[dict], None] | None = None, settings: Settings | None = None,
           within: str | Path | None = None, cancel: Callable[[], bool] | None = None) -> RunResult:
    """Continue a run from its last checkpoint (after a kill, a crash or an error).

    A run waiting for a person's answer stays waiting: the result carries its question again. ``within``: take
    only a run id, of a run inside that folder (``find_run``).
    """
    return _continue(run, None, on_event, settings, within, cancel)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether a run folder holds a checkpoint to resume from."""
    return RunStore(Path(run_dir)).latest_checkpoint() is not None


def answer(run: str, text: str, *, on_event: Callable[[dict], None] | None = None,
           settings: Settings | None = None, within: str | Path | None = None,
           cancel: Callable[[], bool] | None = None, layout: list[dict] | None = None,
           mask: str | None = None, candidate: str | None = None) -> RunResult:
    """Give a waiting run the person's answer (approve, change the plan, accept, pick, an edit, undo) and go on.

    With the words may come what a person draws: at the plan, ``layout`` (``[{"object": i, "box": [x0, y0,
    x1, y1]}]``: the boxes as moved; an object left out is removed from the plan); after a round, ``mask``
    (a PNG in the run folder, white = the part to change; "it" then means the object under it, and the edit
    paints only there) and ``candidate`` (the image it was drawn on)."""
    from langgraph.types import Command

    if not text.strip():
        raise UsageError("the answer is empty")
    value = text.strip()
    if layout is not None or mask is not None or candidate is not None:
        value = {"text": value, "layout": layout, "mask": mask, "candidate": candidate}
    return _continue(run, Command(resume=value), on_event, settings, within, cancel)


def _continue(run: str, graph_input, on_event, settings, within=None, cancel=None) -> RunResult:
    store = find_run(run, within)
    saved = store.latest_checkpoint()
    if saved is None:
        raise UsageError(f"run '{run}' has no checkpoint to resume from: it was stopped before its first one, "
                         "so nothing was made in it; start it again with the command that started it")
    values = saved.checkpoint["channel_values"]
    if "run_id" not in values:  # killed before the first step: the input is still in the start channel
        values = values.get("__start__") or {}
    if "run_id" not in values:
        raise UsageError(f"run '{run}' has an unreadable checkpoint")
    # stream(None) continues from the last checkpoint, i.e. the last step that finished
    with store.space_for(values["run_id"], fresh=False):
        return _drive(store, graph_input, values, settings or load_settings(), on_event, cancel)
