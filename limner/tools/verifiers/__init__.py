"""Verifiers and their registry. Adding one: a module with a class, and one line in ``VERIFIERS`` (or, from
another distribution, one ``limner.verifiers`` entry point: ``limner.tools.plugins``).

Each entry declares what the verifier needs (``limner.tools.verifiers.declared``), so callers read declarations
instead of comparing names: ``needs_llm``, ``takes_llm``, ``needs_plan``, ``differentiable``, the weights it
loads, and how it is set up where it runs (``prepare(options, Where(...))``: its options, or why it cannot run,
and the LLM calls one image's score takes).
"""

from __future__ import annotations

from limner.tools.plugins import extend
from limner.tools.verifiers import requirements as req
from limner.tools.verifiers.base import Score, Verifier
from limner.tools.verifiers.declared import Declared, Prepared, Where


def _clipscore(**options):
    from limner.tools.verifiers.clipscore import CLIPScore

    return CLIPScore(**options)


def _shapes_clip(**options):
    from limner.tools.verifiers.clipscore import BUILTIN_SHAPES, CLIPScore

    return CLIPScore(**{"model": BUILTIN_SHAPES, "name": "shapes-clip", **options})


def _pickscore(**options):
    from limner.tools.verifiers.pickscore import PickScore

    return PickScore(**options)


def _hpsv2(**options):
    from limner.tools.verifiers.hpsv2 import HPSv2

    return HPSv2(**options)


def _aesthetic(**options):
    from limner.tools.verifiers.aesthetic import Aesthetic

    return Aesthetic(**options)


def _vlm_judge(llm=None, **options):
    from limner.tools.verifiers.vlm_judge import VLMJudge

    return VLMJudge(llm, **options)


def _questions(llm=None, answerer: str = "auto", plan_fn=None, model: str | None = None, mode: str = "batched",
               detector: str | None = None, threshold: float | None = None, nms: float | None = None,
               color: str | None = None, clip: str | None = None, vlm_kinds: list[str] | None = None,
               colors: list[str] | None = None, device: str | None = None):
    """``answerer``: parser (the shapes world's exact parser: ShapesEval's scorer, so an oracle), vlm, detector
    (``detector``: its weights; colour by ``color``: clip with the ``clip`` weights, or detector, among
    ``colors``: GenEval's ten, or those the detector folder names), or auto (vlm with an endpoint; without one,
    ``declaration("questions").prepare`` chooses by where the run judges its images: called directly, auto
    without an endpoint is an error rather than a silent fall back to the oracle).
    With the detector and an endpoint, the checks of ``vlm_kinds`` (default: "other") go to the VLM."""
    from limner.tools.verifiers import answerers as a
    from limner.tools.verifiers.questions import QuestionVerifier

    if answerer == "auto":
        if llm is None:
            raise ValueError("the questions verifier's answerer 'auto' needs an LLM (llm=...) to mean a VLM: name "
                             "it instead: answerer='detector' (detector weights), 'vlm' (llm=...) or 'parser' "
                             "(the shapes world's exact parser, ShapesEval's scorer: an oracle)")
        answerer = "vlm"
    if answerer == "parser":
        return QuestionVerifier(a.ParserAnswerer(), plan_fn=plan_fn)
    if answerer == "vlm":
        return QuestionVerifier(a.VLMAnswerer(llm, model=model, mode=mode), plan_fn=plan_fn)
    if answerer != "detector":
        raise ValueError(f"unknown answerer '{answerer}': use parser, vlm, detector or auto")
    from limner.tools.verifiers.clipscore import CLIPScore
    from limner.tools.verifiers.detector import Detector, folder_settings

    ref = detector or req.REAL_DETECTOR
    shipped = folder_settings(ref)  # a folder may say how it reads colours best, and which colours it knows
    color = color or shipped.get("color", "clip")
    found = a.DetectorAnswerer(Detector(ref, device=device, threshold=threshold, nms=nms), color=color,
                               clip=CLIPScore(clip or req.REAL_CLIP, device=device) if color == "clip" else None,
                               colors=tuple(colors or shipped.get("colors") or a.GENEVAL_COLORS))
    kinds = ["other"] if vlm_kinds is None else list(vlm_kinds)
    if llm is None or not kinds:
        return QuestionVerifier(found, plan_fn=plan_fn)
    vlm = a.VLMAnswerer(llm, model=model, mode=mode)
    return QuestionVerifier(a.CombinedAnswerer(found, {k: vlm for k in kinds}), plan_fn=plan_fn)


def _clipscore_setup(options: dict, where: Where) -> Prepared:
    """Without a model: shapes-clip for the shapes world, a real CLIP (``LIMNER_CLIP_MODEL``) for real images."""
    notice = None
    if not options.get("model"):
        options["model"] = req.default_clip_model(where.world)
        if not where.parseable and options["model"] == req.BUILTIN_SHAPES:
            notice = ("clipscore uses shapes-clip, which knows only the shapes world: set LIMNER_CLIP_MODEL "
                      "(e.g. openai/clip-vit-large-patch14) to judge real images")
    return Prepared(options, notice)


def _questions_setup(options: dict, where: Where) -> Prepared:
    """``answerer: auto``: in the shapes world its learned detector (shapes-owl); on real images a VLM when an
    endpoint is configured, with the detector localising when its weights are here; the detector alone when
    only its weights are; else nothing (skipped, with a notice). The exact parser answers only when asked
    (``answerer: parser``: an oracle). A VLM answers all checks in one call (``mode: batched``) or one call
    per check (``per_question``)."""
    answerer = options.get("answerer", "auto")
    if answerer == "auto":
        if where.parseable:
            answerer = "detector"
        else:
            ref = options.get("detector") or (req.default_detector("real") if where.world == "real" else None)
            has_detector = ref is not None and req.is_present(ref)  # not shapes-owl for images it cannot read
            answerer = "detector" if has_detector else "vlm" if where.llm else None
    if answerer is None:
        return Prepared(None, "the questions verifier is skipped: outside the shapes world it needs a VLM "
                              "(set LIMNER_LLM_BASE_URL) or a detector's weights (limner pull --verifier "
                              "questions:detector)")
    options["answerer"] = answerer
    if answerer == "detector":
        from limner.tools.verifiers.detector import folder_settings

        options.setdefault("detector", req.default_detector(where.world))
        options.setdefault("color", folder_settings(options["detector"]).get("color", "clip"))
        if options["color"] == "clip":
            options.setdefault("clip", req.default_clip_model(where.world))
        if where.parseable or not where.llm:  # the shapes world's checks are all the detector's kinds
            options.setdefault("vlm_kinds", [])
    uses_vlm = answerer == "vlm" or (answerer == "detector" and options.get("vlm_kinds", ["other"]))
    if not uses_vlm:
        return Prepared(options)
    per_question = options.get("mode", "batched") != "batched"
    return Prepared(options, llm_per_image=0 if per_question else 1, llm_per_check=1 if per_question else 0)


def _adapt(name: str, loaded) -> Declared:
    """A plugin's entry point: a ``Declared``, or a class/factory whose attributes declare its needs."""
    if isinstance(loaded, Declared):
        return loaded
    return Declared(loaded, needs_llm=bool(getattr(loaded, "needs_llm", False)),
                    takes_llm=bool(getattr(loaded, "takes_llm", getattr(loaded, "needs_llm", False))),
                    needs_plan=bool(getattr(loaded, "needs_plan", False)),
                    differentiable=bool(getattr(loaded, "differentiable", False)),
                    weights=getattr(loaded, "required_weights", None))


BUILTIN: dict[str, Declared] = {
    "clipscore": Declared(_clipscore, differentiable=True, weights=req.clip_weights, setup=_clipscore_setup),
    "shapes-clip": Declared(_shapes_clip, differentiable=True),
    "pickscore": Declared(_pickscore, differentiable=True, weights=req.pickscore_weights),
    "hpsv2": Declared(_hpsv2, differentiable=True, weights=req.hpsv2_weights),
    "aesthetic": Declared(_aesthetic, differentiable=True, weights=req.aesthetic_weights),
    "vlm-judge": Declared(_vlm_judge, needs_llm=True, takes_llm=True),
    "questions": Declared(_questions, takes_llm=True, needs_plan=True, weights=req.questions_weights,
                          setup=_questions_setup),
}
VERIFIERS: dict[str, Declared] = extend("verifiers", dict(BUILTIN), _adapt)


def required_weights(name: str, options: dict | None = None, world: str = "real") -> list[str]:
    """The weight references verifier ``name`` loads with ``options``, as its declaration says (none for
    LLM-backed ones and the shipped shapes-clip)."""
    return VERIFIERS[name].required_weights(options, world) if name in VERIFIERS else []


def declaration(name: str) -> Declared:
    """Verifier ``name``'s declaration (``ValueError`` naming the known ones for an unknown name)."""
    try:
        return VERIFIERS[name]
    except KeyError:
        raise ValueError(f"unknown verifier '{name}': choose from {', '.join(VERIFIERS)}") from None


def make_verifier(name: str, *, llm=None, plan_fn=None, **options) -> Verifier:
    """Verifier ``name`` made with ``options``; it is given the endpoint (``llm``) and the plan (``plan_fn``)
    only if its declaration says it takes them."""
    declared = declaration(name)
    if declared.takes_llm:
        options["llm"] = llm
    if declared.needs_plan:
        options["plan_fn"] = plan_fn
    return declared(**options)


__all__ = ["VERIFIERS", "Declared", "Prepared", "Score", "Verifier", "Where", "declaration", "make_verifier",
           "required_weights"]
