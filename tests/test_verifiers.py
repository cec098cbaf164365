import json

import pytest
from PIL import Image

from scripted_openai import Reply
from tools.verifiers import make_verifier


def images(n):
    return [Image.new("RGB", (64, 64), (20 * i, 255 - 30 * i, 60)) for i in range(n)]


def test_clipscore_scores_are_calibrated_and_keep_order():
    v = make_verifier("clipscore")
    ims = images(4)
    scores = v.score(ims, ["a red circle"] * 4)
    assert len(scores) == 4 and all(0.0 <= s.score <= 1.0 for s in scores)
    reversed_scores = v.score(ims[::-1], ["a red circle"] * 4)
    assert [s.raw for s in reversed_scores] == pytest.approx([s.raw for s in scores][::-1], abs=1e-5)


def test_clipscore_is_differentiable_to_pixels():
    import torch

    v = make_verifier("clipscore")
    pixels = torch.rand(2, 3, 64, 64, requires_grad=True)
    v.cosine(pixels, ["a red circle", "a blue square"]).sum().backward()
    assert pixels.grad is not None and torch.isfinite(pixels.grad).all() and pixels.grad.abs().sum() > 0


def _judgement(scores):
    keys = ["prompt_adherence", "object_correctness", "composition", "quality", "artifacts"]
    return json.dumps({k: {"score": s, "reason": f"{k} reason"} for k, s in zip(keys, scores)})


def test_vlm_judge_sends_the_image_and_combines_criteria(llm_env):
    from agent.config import load_settings
    from agent.llm import LLMClient

    llm_env.script(Reply(content=_judgement([10, 10, 10, 10, 10])), Reply(content=_judgement([0, 0, 0, 0, 0])))
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    scores = judge.score(images(2), ["a red circle", "a red circle"])
    assert [s.score for s in scores] == [1.0, 0.0]  # order kept
    content = llm_env.requests[0]["messages"][-1]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert scores[0].detail["reasons"]["quality"] == "quality reason"


def test_vlm_judge_out_of_range_scores_are_repaired_or_rejected(llm_env):
    from agent.config import load_settings
    from agent.errors import LLMError
    from agent.llm import LLMClient

    llm_env.script(Reply(content=_judgement([11, 5, 5, 5, 5])), Reply(content=_judgement([12, 5, 5, 5, 5])))
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    with pytest.raises(LLMError, match="prompt_adherence.score"):
        judge.score(images(1), ["a red circle"])


def test_unknown_verifier_and_missing_endpoint_are_clear():
    with pytest.raises(ValueError, match="unknown verifier 'nope'"):
        make_verifier("nope")
    with pytest.raises(ValueError, match="needs an LLM endpoint"):
        make_verifier("vlm-judge")
