"""Question-based verification: DSG's dependency rule, the parser answerer, the VLM answerer."""

import pytest
from PIL import Image

from limner.agent.planners.rules import RulesPlanner, rules_plan
from scripted_openai import Reply
from limner.tools.shapes.world import Obj, Scene, render
from limner.tools.verifiers import make_verifier
from limner.tools.verifiers.questions import dsg_score

CHECKS = [
    {"id": "a", "question": "Is there a circle?", "depends_on": []},
    {"id": "b", "question": "Is the circle red?", "depends_on": ["a"]},
    {"id": "c", "question": "Is there a square?", "depends_on": []},
    {"id": "d", "question": "Is the circle left of the square?", "depends_on": ["a", "c"]},
]


def answers(**p):
    return {k: {"p_yes": v, "box": None} for k, v in p.items()}


def test_dsg_all_yes_scores_one():
    score, records = dsg_score(CHECKS, answers(a=1, b=1, c=1, d=1))
    assert score == 1.0 and all(r["passed"] for r in records)


def test_dsg_a_no_parent_zeroes_its_children():
    score, records = dsg_score(CHECKS, answers(a=0, b=1, c=1, d=1))
    by = {r["id"]: r for r in records}
    assert by["b"]["skipped_by_parent"] and by["b"]["counted"] == 0.0
    assert by["d"]["skipped_by_parent"] and not by["c"]["skipped_by_parent"]
    assert score == pytest.approx(1 / 4)


def test_dsg_uses_probabilities_and_skips_unanswerable():
    score, _ = dsg_score(CHECKS, answers(a=0.9, b=0.6, c=None, d=0.8))
    assert score == pytest.approx((0.9 + 0.6 + 0.8) / 3)


def test_dsg_rejects_cycles():
    with pytest.raises(ValueError, match="cycle"):
        dsg_score([{"id": "x", "question": "?", "depends_on": ["y"]},
                   {"id": "y", "question": "?", "depends_on": ["x"]}], answers(x=1, y=1))


def image_of(*objs):
    return Image.fromarray(render(Scene(list(objs)))[0])


def test_parser_answers_say_what_failed_and_where():
    verifier = make_verifier("questions", answerer="parser", plan_fn=rules_plan)
    right = image_of(Obj("circle", "red", 2, 20, 14), Obj("square", "blue", 40, 20, 14))
    wrong_colour = image_of(Obj("circle", "green", 2, 20, 14), Obj("square", "blue", 40, 20, 14))
    wrong_place = image_of(Obj("circle", "red", 40, 20, 14), Obj("square", "blue", 2, 20, 14))
    prompt = "a red circle left of a blue square"
    good, colour, place = verifier.score([right, wrong_colour, wrong_place], [prompt] * 3)
    assert good.score == 1.0 and good.detail["failed"] == []
    assert colour.detail["failed"] == ["o0-color", "r0"]  # the green circle is not "the red circle"
    failed_colour = next(q for q in colour.detail["questions"] if q["id"] == "o0-color")
    assert failed_colour["box"] == [2, 20, 16, 34] and failed_colour["object"] == 0
    assert place.detail["failed"] == ["r0"] and place.score == pytest.approx(4 / 5)


def test_parser_counts_exactly():
    verifier = make_verifier("questions", answerer="parser", plan_fn=rules_plan)
    three = image_of(*[Obj("triangle", "black", 2 + 20 * i, 10, 14) for i in range(3)])
    four = image_of(*[Obj("triangle", "black", 2 + 20 * i, 10, 14) for i in range(3)], Obj("triangle", "black", 2, 40, 14))
    a, b = verifier.score([three, four], ["three triangles"] * 2)
    assert a.score == 1.0 and b.detail["failed"] == ["o0-count"]


def test_vlm_answerer_uses_logprobs_and_plain_answers(llm_env):
    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    # "a red circle": 3 questions (exists, colour); logprobs for the first, plain words after a 400
    llm_env.script(
        Reply(content="Yes", top_logprobs=[("Yes", -0.105), ("No", -2.303)]),
        Reply(content="No", top_logprobs=[(" no", -0.01), ("yes", -4.6)]),
    )
    verifier = make_verifier("questions", llm=LLMClient(load_settings()), answerer="vlm", mode="per_question", plan_fn=rules_plan)
    (score,) = verifier.score([image_of(Obj("circle", "red", 20, 20, 14))], ["a red circle"])
    p_yes = 0.9 / (0.9 + 0.1)
    assert score.detail["questions"][0]["answer"] == pytest.approx(p_yes, abs=1e-3)
    assert score.detail["failed"] == ["o0-color"]
    assert llm_env.requests[0]["logprobs"] is True and llm_env.requests[0]["max_tokens"] == 1


def test_vlm_answerer_without_logprobs_validates_the_word(llm_env):
    from limner.agent.config import load_settings
    from limner.agent.errors import LLMError
    from limner.agent.llm import LLMClient

    llm_env.script(Reply(status=400, error="logprobs are not supported by this model"), Reply(content="yes."),
                   Reply(content="Maybe, it is hard to say"), Reply(content='{"answer": "no"}'))
    verifier = make_verifier("questions", llm=LLMClient(load_settings()), answerer="vlm", mode="per_question", plan_fn=rules_plan)
    (score,) = verifier.score([image_of(Obj("circle", "red", 20, 20, 14))], ["a red circle"])
    assert [q["answer"] for q in score.detail["questions"]] == [1.0, 0.0]
    assert "logprobs" not in llm_env.requests[1]
    llm_env.script(Reply(content="perhaps"), Reply(content="not json either"))
    with pytest.raises(LLMError):
        verifier.score([image_of(Obj("circle", "red", 20, 20, 14))], ["a circle"])


def test_llm_written_checks_without_kind_are_left_unanswered_by_the_parser():
    plan = RulesPlanner().plan("a red circle").model_dump()
    plan["checks"].append({"id": "style", "question": "Is it a photo?", "kind": "other", "object": None,
                           "relation": None, "depends_on": []})
    verifier = make_verifier("questions", answerer="parser", plan_fn=lambda prompt: plan)
    (score,) = verifier.score([image_of(Obj("circle", "red", 20, 20, 14))], ["a red circle"])
    assert score.score == 1.0 and score.detail["questions"][-1]["answer"] is None


def test_vlm_answerer_batched_asks_every_check_in_one_request_with_the_image_first(llm_env):
    import json

    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    llm_env.script(Reply(content=json.dumps({
        "description": "a blue circle; nothing red",
        "answers": [{"id": "o0", "reasoning": "there is a circle", "answer": "yes"}],  # o0-color left out
    })))
    verifier = make_verifier("questions", llm=LLMClient(load_settings()), answerer="vlm", plan_fn=rules_plan)
    assert verifier.calls_per_image(5) == 1
    (score,) = verifier.score([image_of(Obj("circle", "blue", 20, 20, 14))], ["a red circle"])
    assert len(llm_env.requests) == 1
    user = [m for m in llm_env.requests[0]["messages"] if m["role"] == "user"][0]["content"]
    assert user[0]["type"] == "image_url" and "o0-color" in user[1]["text"]
    assert [m["role"] for m in llm_env.requests[0]["messages"]].count("system") == 1
    assert [q["answer"] for q in score.detail["questions"]] == [1.0, 0.0]  # an omitted check is a "no"
    assert score.detail["failed"] == ["o0-color"] and score.detail["critique"] == "a blue circle; nothing red"


def test_auto_without_an_llm_or_prepare_names_the_choice_instead_of_using_the_oracle():
    from limner.agent.planners.rules import rules_plan

    with pytest.raises(ValueError, match="answerer='detector'.*'parser'.*oracle"):
        make_verifier("questions", plan_fn=rules_plan)
    assert make_verifier("questions", answerer="parser", plan_fn=rules_plan).describe()["oracle"] is True
