import json

import pytest
from PIL import Image

from scripted_openai import Reply
from limner.tools.verifiers import make_verifier


def images(n):
    return [Image.new("RGB", (64, 64), (20 * i, 255 - 30 * i, 60)) for i in range(n)]


def test_clipscore_scores_are_calibrated_and_keep_order():
    v = make_verifier("clipscore", model="builtin:tiny-random-clip")
    ims = images(4)
    scores = v.score(ims, ["a red circle"] * 4)
    assert len(scores) == 4 and all(0.0 <= s.score <= 1.0 for s in scores)
    reversed_scores = v.score(ims[::-1], ["a red circle"] * 4)
    assert [s.raw for s in reversed_scores] == pytest.approx([s.raw for s in scores][::-1], abs=1e-5)


def test_clipscore_is_differentiable_to_pixels():
    import torch

    v = make_verifier("clipscore", model="builtin:tiny-random-clip")
    pixels = torch.rand(2, 3, 64, 64, requires_grad=True)
    v.cosine(pixels, ["a red circle", "a blue square"]).sum().backward()
    assert pixels.grad is not None and torch.isfinite(pixels.grad).all() and pixels.grad.abs().sum() > 0


def test_clip_text_embeddings_are_kept_and_do_not_depend_on_the_batch():
    import torch

    v = make_verifier("clipscore", model="builtin:tiny-random-clip")
    ims = images(3)
    alone = v.text_embeds(["a red circle"])
    v._text_cache.clear()
    calls = []
    encode = v._encode_text
    v._encode_text = lambda p: calls.append(p) or encode(p)
    prompts = ["a red circle", "a much longer prompt about a blue square", "a red circle"]
    mixed = v.text_embeds(prompts)
    assert calls == prompts[:2]  # each distinct prompt once
    assert torch.equal(mixed[0], alone[0]) and torch.equal(mixed[2], alone[0])  # padding in a batch changes nothing
    v.score(ims, ["a red circle"] * 3)
    assert len(calls) == 2  # kept
    with torch.inference_mode():  # kept from an inference-mode call, then used with gradients
        v._text_cache.clear()
        v.score(ims[:1], ["a blue square"])
    pixels = torch.rand(1, 3, 64, 64, requires_grad=True)
    v.cosine(pixels, ["a blue square"]).sum().backward()
    assert pixels.grad is not None


def _judgement(scores):
    keys = ["prompt_adherence", "object_correctness", "composition", "quality", "artifacts"]
    return json.dumps({k: {"score": s, "reason": f"{k} reason"} for k, s in zip(keys, scores)})


def test_vlm_judge_sends_the_image_and_combines_criteria(llm_env):
    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    llm_env.script(Reply(content=_judgement([10, 10, 10, 10, 10])), Reply(content=_judgement([0, 0, 0, 0, 0])))
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()), max_workers=1)
    scores = judge.score(images(2), ["a red circle", "a red circle"])
    assert [s.score for s in scores] == [1.0, 0.0]  # order kept
    content = llm_env.requests[0]["messages"][-1]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert scores[0].detail["reasons"]["quality"] == "quality reason"


def test_vlm_judge_out_of_range_scores_are_repaired_or_rejected(llm_env):
    from limner.agent.config import load_settings
    from limner.agent.errors import LLMError
    from limner.agent.llm import LLMClient

    llm_env.script(Reply(content=_judgement([11, 5, 5, 5, 5])), Reply(content=_judgement([12, 5, 5, 5, 5])))
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    with pytest.raises(LLMError, match="prompt_adherence.score"):
        judge.score(images(1), ["a red circle"])


def test_unknown_verifier_and_missing_endpoint_are_clear():
    with pytest.raises(ValueError, match="unknown verifier 'nope'"):
        make_verifier("nope")
    with pytest.raises(ValueError, match="needs an LLM endpoint"):
        make_verifier("vlm-judge")


def test_parallel_vlm_calls_keep_the_candidates_order(llm_env):
    """Answers arrive out of order (random delays); each score must still belong to its own image."""
    import random

    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    def responder(body):
        text = body["messages"][-1]["content"][0]["text"]
        k = int(text.split("shape number ")[1].split('"')[0])
        return Reply(content=_judgement([k] * 5), delay=random.uniform(0, 0.2))

    llm_env.responder = responder
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()), max_workers=8)
    prompts = [f"shape number {k}" for k in range(10)]
    scores = judge.score(images(10), prompts)
    assert [s.raw["quality"] for s in scores] == list(range(10))


def test_pairwise_comparison(llm_env):
    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    llm_env.script(Reply(content='{"winner": "B", "reason": "B has the red circle"}'))
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    pref = judge.compare(*images(2), "a red circle")
    assert pref.winner == "B"
    content = llm_env.requests[0]["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "image_url"]


def test_verifier_ensemble_keeps_order_across_parallel_verifiers():
    import random
    import time

    from limner.tools.verifiers import Score
    from limner.tools.verifiers.ensemble import combine, normalised_ranks, score_all

    class Slow:
        def __init__(self, offset):
            self.offset = offset

        def score(self, ims, prompts):
            time.sleep(random.uniform(0, 0.05))
            return [Score(score=(i + self.offset) / 20, raw=i) for i in range(len(ims))]

    out = score_all([("a", Slow(0)), ("b", Slow(5)), ("c", Slow(10))], images(4), ["p"] * 4)
    assert list(out) == ["a", "b", "c"] and [s.raw for s in out["b"]] == [0, 1, 2, 3]
    per = {n: [s.score for s in v] for n, v in out.items()}
    assert combine(per, {"a": 1, "b": 1, "c": 2}) == pytest.approx([(i + (i + 5) + 2 * (i + 10)) / 80 for i in range(4)])
    assert normalised_ranks([0.3, 0.1, 0.3, 0.9]) == [0.5, 0.0, 0.5, 1.0]
    # rank: verifier "x" loves candidate 0 by a mile, "y" and "z" prefer candidate 1 slightly
    scores = {"x": [1.0, 0.0], "y": [0.50, 0.51], "z": [0.50, 0.51]}
    w = {"x": 1, "y": 1, "z": 1}
    assert combine(scores, w, "mean")[0] > combine(scores, w, "mean")[1]
    assert combine(scores, w, "rank")[1] > combine(scores, w, "rank")[0]


@pytest.mark.parametrize("replies, expected", [
    ([Reply(content="The image looks great! 9/10"), Reply(content=_judgement([9, 9, 9, 9, 9]))], 0.9),
    ([Reply(status=500), Reply(content=_judgement([6, 6, 6, 6, 6]))], 0.6),
])
def test_vlm_judge_recovers_from_malformed_json_and_a_500(llm_env, replies, expected):
    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    llm_env.script(*replies)
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    assert judge.score(images(1), ["a red circle"])[0].score == pytest.approx(expected)


@pytest.mark.parametrize("replies, message", [
    ([Reply(content=None, refusal="I cannot judge images.")], "refused"),
    ([Reply(status=500), Reply(status=500)], "HTTP 500"),
    ([Reply(content=_judgement([5] * 5), delay=1.5)], "did not answer within"),
])
def test_vlm_judge_failures_are_clear(llm_env, monkeypatch, replies, message):
    from limner.agent.config import load_settings
    from limner.agent.errors import LLMError
    from limner.agent.llm import LLMClient

    monkeypatch.setenv("LIMNER_LLM_TIMEOUT", "0.3")
    monkeypatch.setenv("LIMNER_LLM_MAX_RETRIES", "1")
    llm_env.script(*replies, *replies)
    judge = make_verifier("vlm-judge", llm=LLMClient(load_settings()))
    with pytest.raises(LLMError, match=message) as info:
        judge.score(images(1), ["a red circle"])
    assert "\n" not in str(info.value)
