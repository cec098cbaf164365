"""Chat sessions: interrupts at the plan and after each round, answers read into intents, resume after a kill.

The terminal tests drive the real ``limner chat`` through a pseudo-terminal (pexpect) with the offline rules
planner and the shipped shapes model.
"""

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from limner.agent.errors import UsageError
from limner.agent.edits import Intent, Scene, read, read_rules
from limner.agent.runner import answer, resume, run
from scripted_openai import Reply

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


PLAN = {"objects": [{"name": "circle", "color": "blue", "count": 1}, {"name": "square", "color": "red", "count": 1}]}
CANDS = [{"id": i} for i in ("r01-c00", "r01-c01", "r02-c01")]


def _scene(history=None):
    return Scene.of(PLAN, CANDS, history)


@pytest.mark.parametrize("text, expected", [
    ("yes", {"action": "accept"}),
    ("OK, looks good", {"action": "accept"}),
    ("cancel", {"action": "cancel"}),
    ("pick r01-c00", {"action": "pick", "candidate": "r01-c00"}),
    ("pick c01", {"action": "pick", "candidate": "r02-c01"}),  # the latest round's c01
    ("more", {"action": "more"}),
    ("make the square bigger", {"action": "edit", "kind": "resize", "object": 1, "scale": 1.5}),
    ("keep r01-c01 but the circle should be red", {"action": "edit", "object": 0, "color": "red", "candidate": "r01-c01"}),
    ("two green triangles", {"action": "replan", "request": "two green triangles"}),
])
def test_the_offline_reading_of_plain_words(text, expected):
    fb = read_rules(text, "round", _scene()).model_dump()
    assert {k: fb[k] for k in expected} == expected


def test_the_turns_a_round_suggests_are_about_its_picture_and_read_as_they_say():
    import re

    from limner.agent.cli.chat import _examples

    said = re.findall(r"'([^']+)'", _examples(PLAN))
    assert said[0] == "make the circle green"  # a colour it is not
    kinds = [read_rules(text, "round", _scene()).kind for text in said]
    assert kinds == ["recolor", "resize", "add", "remove"] and "smaller" in said[1]  # a smaller one always fits


def test_at_the_plan_an_edit_changes_the_plan_and_images_are_not_named():
    assert read("yes", "plan", _scene()).action == "accept"
    assert read("make the square green", "plan", _scene()).kind == "recolor"
    assert read("pick r01-c00", "plan", _scene()).action == "replan"
    assert read("undo", "plan", _scene()).action == "replan"


def test_an_llm_reading_is_validated_and_checked_against_the_stage(llm_env, tmp_path):
    from limner.agent.config import load_settings
    from limner.agent.llm import LLMClient

    llm = LLMClient(load_settings())
    llm_env.script(Reply(content=json.dumps({"action": "edit", "kind": "resize", "object": 1, "scale": 2.0,
                                             "reply": "bigger"})))
    fb = read("the square should be twice as big", "round", _scene(), llm=llm)
    assert (fb.action, fb.kind, fb.object, fb.scale) == ("edit", "resize", 1, 2.0)
    assert "twice as big" in llm_env.requests[-1]["messages"][-1]["content"]
    llm_env.script(Reply(content=json.dumps({"action": "more"})))
    read("again", "round", _scene([{"action": "accept"}, {"action": "edit", "kind": "recolor", "object": 0}]), llm=llm)
    assert '"recolor"' in llm_env.requests[-1]["messages"][-1]["content"]  # the conversation goes along
    # an action the stage does not allow becomes a change of plan; an unknown candidate is a question
    llm_env.script(Reply(content=json.dumps({"action": "pick", "candidate": "r09-c09"})))
    assert read("that one", "plan", _scene(), llm=llm).action == "replan"
    llm_env.script(Reply(content=json.dumps({"action": "back", "candidate": "r09-c09"})))
    assert read("back to r09-c09", "round", _scene(), llm=llm).action == "ask"
    # an edit missing its object asks which; an object that does not exist is no guess
    llm_env.script(Reply(content=json.dumps({"action": "edit", "kind": "remove"})))
    assert read("remove it", "round", _scene(), llm=llm).action == "ask"
    llm_env.script(Reply(content=json.dumps({"action": "edit", "kind": "remove", "object": 7})))
    assert read("remove it", "round", _scene(), llm=llm).action == "replan"
    llm_env.script(Reply(content='{"action": "explode"}'), Reply(content='{"action": "more"}'))
    assert read("again", "round", _scene(), llm=llm) == Intent(action="more")


def test_an_interactive_run_waits_for_the_person_and_obeys(tmp_path, shapes_defaults):
    r = run("a blue circle left of a red square", out=tmp_path, seed=3, interactive=True, policy="chat")
    assert r.status == "waiting" and r.question["kind"] == "plan" and r.final_path is None
    r = answer(r.run_id, "yes")
    assert r.status == "waiting" and r.question["kind"] == "round" and len(r.question["candidates"]) == 4
    assert (Path(r.run_dir) / "contact.png").is_file() and (Path(r.run_dir) / "report.html").is_file()
    first_best = r.question["best_id"]
    r = answer(r.run_id, "make the circle green")
    q = r.question
    # the edit's round, or a retry of it when its checks failed, within the chat policy's budget
    assert q["round"] >= 2 and q["plan"]["objects"][0]["color"] == "green" and q["plan"]["version"] == 2
    assert "green circle" in q["plan"]["rewritten_prompt"]
    # candidates made for the blue circle no longer compete with the edited ones
    assert not q["best_id"].startswith("r01-") and q["best_id"] != first_best
    again = resume(r.run_id)  # a waiting run stays waiting, with the same question
    assert again.status == "waiting" and again.question["round"] == q["round"]
    r = answer(r.run_id, "accept")
    assert r.status in {"passed", "best_effort"} and Path(r.final_path).is_file()
    m = json.loads(Path(r.manifest_path).read_text())
    assert [t["answer"] for t in m["chat"]] == ["yes", "make the circle green", "accept"]
    assert [t["read_as"]["action"] for t in m["chat"]] == ["accept", "edit", "accept"]
    edited = [c for c in m["candidates"] if c["round"] == 2]
    assert all(c["edit"]["parent"] == first_best and c["edit"]["prompt"] == "a green circle" for c in edited)
    assert m["decisions"][-1]["reason"] == "the person answered: 'accept'"
    assert m["report"]["html"] == "report.html"
    with pytest.raises(UsageError, match="not waiting"):
        answer(r.run_id, "more")


def test_the_readme_chat_edit_ends_with_the_green_circle_it_asked_for(tmp_path, shapes_defaults):
    """README's interactive example, through the API: "make the circle green", then "accept" keeps a green circle
    (a recolour on a model told the box repaints it at ``grounded_recolor_strength``, 1.0)."""
    from PIL import Image

    from limner.tools.shapes.parser import parse

    r = run("a blue circle left of a red square", out=tmp_path, seed=3, interactive=True, policy="chat", candidates=2)
    r = answer(answer(answer(r.run_id, "yes").run_id, "make the circle green").run_id, "accept")
    m = json.loads(Path(r.manifest_path).read_text())
    best = next(c for c in m["candidates"] if c["id"] == m["best"]["id"])
    assert best["round"] >= 2 and best["edit"]["strength"] == 1.0  # the edit's round, or a retry of it
    with Image.open(r.final_path) as im:
        assert any(o["shape"] == "circle" and o["color"] == "green" for o in parse(im.convert("RGB")))


def test_a_person_can_change_the_plan_pick_a_candidate_or_cancel(tmp_path, shapes_defaults):
    r = run("a red circle", out=tmp_path, seed=1, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "two green triangles")  # a new description at the plan: a new plan, asked again
    assert r.question["kind"] == "plan" and r.question["plan"]["objects"][0]["name"] == "triangle"
    r = answer(r.run_id, "ok")
    r = answer(r.run_id, "more")
    assert r.question["round"] == 2
    r = answer(r.run_id, "pick r01-c01")
    assert r.best_id == "r01-c01" and "finish with r01-c01" in r.stop_reason
    assert r.status == ("passed" if not r.checks["failed"] else "best_effort")  # a pick still names failing checks
    cancelled = run("a red circle", out=tmp_path, seed=1, interactive=True, policy="chat")
    done = answer(cancelled.run_id, "cancel")
    assert done.status == "failed" and done.stop_reason == "the person cancelled at the plan" and done.rounds == 0


def _spawn(args, cwd):
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, COLUMNS="200", TERM="dumb", NO_COLOR="1")
    # a terminal's Ctrl-C must reach the child even when this process ignores SIGINT (ignored signals are inherited)
    return pexpect.spawn(sys.executable, ["-m", "limner.agent.cli", "chat", *args], env=env, encoding="utf-8",
                         timeout=180, cwd=str(cwd), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_limner_chat_in_a_terminal_approve_feedback_kill_resume_accept(tmp_path, shapes_defaults):
    import pexpect

    child = _spawn(["a blue circle left of a red square", "--seed", "3", "--out", "runs"], tmp_path)
    child.expect(r"session (\S+) ")
    run_id = child.match.group(1)
    child.expect("approve the plan")
    child.sendline("yes")
    child.expect("what next")
    child.expect(r"e\.g\.\s+'make\s+the\s+circle\s+green',\s+'make\s+the\s+square\s+smaller'")  # this picture's
    child.sendline("make the square bigger")  # the circle is next to it: said, not painted over
    child.expect(r"what next\? that cannot be done: there is no room to make the square bigger\s+without painting over")
    child.expect("> ")
    child.sendline("make the square smaller")
    child.expect("round 2")
    child.expect("what next")
    child.kill(signal.SIGKILL)  # the process dies while waiting for the person
    child.close()

    child = _spawn(["--resume", run_id], tmp_path)
    child.expect(r"round (\d+): ")  # exactly where it stopped (the edit's round, or a retry of it)
    shown = int(child.match.group(1))
    child.expect("what next")
    child.sendline("accept")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    m = json.loads((tmp_path / "runs" / run_id / "manifest.json").read_text())
    assert m["status"] in {"passed", "best_effort"} and [t["answer"] for t in m["chat"]] == [
        "yes", "make the square bigger", "make the square smaller", "accept"]
    assert m["budgets"]["spent"]["rounds"] == shown and 2 <= shown <= 4  # the edit, and up to 2 retries of it
    assert (tmp_path / "runs" / run_id / "final.png").is_file()


def test_ctrl_c_in_a_chat_leaves_a_resumable_session(tmp_path, shapes_defaults):
    import pexpect

    child = _spawn(["a red circle", "--seed", "1", "--out", "runs"], tmp_path)
    child.expect(r"session (\S+) ")
    run_id = child.match.group(1)
    child.expect("approve the plan")
    child.sendintr()
    child.expect("session saved: continue it with `limner chat --resume")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    child = _spawn(["--resume", run_id], tmp_path)
    child.expect("approve the plan")
    child.sendline("cancel")
    child.expect(pexpect.EOF)
    child.close()
    assert json.loads((tmp_path / "runs" / run_id / "manifest.json").read_text())["chat"][0]["answer"] == "cancel"


def test_a_chat_s_rounds_use_the_layout_as_limner_run_s_do(tmp_path, shapes_defaults):
    """The chat policy makes the same layout decision as the default one: on a model trained to take boxes, its
    first round is generated from the plan's layout, and it passes a two-object brief as `limner run` does."""
    chat = run("a blue circle left of a red square", out=tmp_path / "chat", seed=5, interactive=True, policy="chat")
    chat = answer(chat.run_id, "yes")
    assert chat.status == "waiting" and chat.question["kind"] == "round"
    made = chat.candidates  # the result carries them, typed, while the chat waits
    assert len(made) == 4 and all(c.model_extra.get("grounded", {}).get("regions") for c in made)
    plain = run("a blue circle left of a red square", out=tmp_path / "run", seed=5)
    assert plain.status == "passed" and chat.question["best_checks"] and all(
        c["passed"] for c in chat.question["best_checks"])


def test_undo_back_and_branching_keep_every_image_and_the_history_is_a_tree(tmp_path, shapes_defaults):
    r = run("a red circle left of a blue square", out=tmp_path, seed=2, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "yes")
    first = r.question["best_id"]
    r = answer(r.run_id, "remove the square")
    after_edit = r.question["best_id"]
    assert after_edit != first and r.question["plan"]["exclusions"][0]["name"] == "square"
    r = answer(r.run_id, "undo")  # back to the image before the edit, and its plan; no round is made
    assert r.question["best_id"] == first and r.question["asks"] == f"undone: back to {first}"
    assert not r.question["plan"]["exclusions"] and r.question["round"] == r.rounds
    r = answer(r.run_id, "back to r01-c01")  # a branch from the other first-round image
    assert r.question["best_id"] == "r01-c01"
    r = answer(r.run_id, "make the circle green")
    tree = r.question["history"]
    assert [t["action"] for t in tree] == ["edit", "undo", "back", "edit"]
    assert tree[0]["undone"] and tree[0]["from"] == first and tree[3]["from"] == "r01-c01"
    assert tree[3]["made"] and all(c.startswith("r0") for c in tree[3]["made"])
    edited = next(c for c in r.candidates if c.id == tree[3]["made"][0])
    assert edited.edit["parent"] == "r01-c01"
    r = answer(r.run_id, "make the square yellow")
    assert r.question["asks"].startswith("which") is False  # one square: no question
    kept = {c.id for c in r.candidates}  # nothing the person saw was deleted
    assert {first, after_edit, "r01-c01"} <= kept
    assert all((Path(r.run_dir) / c.path).is_file() for c in r.candidates)
    r = answer(r.run_id, "accept")
    assert r.status in {"passed", "best_effort"}


def test_an_ambiguous_reference_asks_and_the_answer_completes_the_edit(tmp_path, shapes_defaults):
    r = run("a red circle and a blue circle", out=tmp_path, seed=1, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "yes")
    rounds = r.rounds
    r = answer(r.run_id, "make the circle bigger")
    assert r.question["asks"] == "which circle: the red one or the blue one?" and r.rounds == rounds
    r = answer(r.run_id, "the blue one")
    assert r.rounds > rounds
    tree = r.question["history"]
    assert tree[-1]["kind"] == "resize" and tree[-2]["action"] == "ask"
    answer(r.run_id, "cancel")


def test_an_edit_said_at_the_plan_changes_the_plan_before_anything_is_generated(tmp_path, shapes_defaults):
    r = run("a red circle left of a blue square", out=tmp_path, seed=1, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "add a green triangle at the top")
    q = r.question
    assert q["kind"] == "plan" and r.rounds == 0 and q["plan"]["version"] == 2
    assert [o["name"] for o in q["plan"]["objects"]] == ["circle", "square", "triangle"]
    new = next(x for x in q["plan"]["layout"]["regions"] if x["object"] == 2)
    assert new["phrase"] == "a green triangle" and new["box"][3] <= 0.5  # at the top, clear of the others
    assert q["asks"].startswith("plan v2: adding a green triangle")
    r = answer(r.run_id, "make the circle bigger")  # needs an image: said why, the plan kept
    assert r.question["kind"] == "plan" and "needs an image" in r.question["asks"]
    r = answer(r.run_id, "yes")
    assert r.question["kind"] == "round" and all(c.plan_version == 2 for c in r.candidates)
    answer(r.run_id, "cancel")


def test_an_object_changed_in_place_is_grounded_in_its_own_box_inside_a_wider_mask(tmp_path, shapes_defaults):
    """A recolour repaints a mask with a margin round the object's box, the model told the box itself: told the
    wider box, the embedded model painted a larger, many-coloured object (limner bench sessions, dev)."""
    r = run("a red circle left of a blue square", out=tmp_path, seed=1, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "yes")
    r = answer(r.run_id, "make the circle green")
    m = json.loads((Path(r.run_dir) / "manifest.json").read_text())
    edited = [c for c in m["candidates"] if c["round"] == 2]
    assert edited
    for c in edited:
        mask, (ground,) = c["edit"]["box"], [g["box"] for g in c["edit"]["grounding"]]
        assert mask[0] < ground[0] and mask[1] < ground[1] and mask[2] > ground[2] and mask[3] > ground[3]
    answer(r.run_id, "cancel")


def test_an_added_object_is_told_the_other_objects_names_as_its_negative_prompt_and_reproduces(
        tmp_path, shapes_defaults):
    """On a model whose alias says ``edit_avoid`` (shapes-tiny), an object a person's edit adds gets the plan's
    other object names as its negative prompt (told nothing, the embedded model painted an added circle squarish,
    read as a square); the edit's manifest entry records it and regenerates from it bit for bit. A model that
    does not say so (tests/test_grounded.py, GLIGEN under its repo id) keeps the plan's negative prompt."""
    import numpy as np
    from PIL import Image

    from limner.agent.reproduce import regenerate

    r = run("a red circle left of a blue square", out=tmp_path, seed=1, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "yes")
    r = answer(r.run_id, "add a green triangle at the bottom")
    made = [c for c in r.candidates if c.round == 2]
    assert made and all(c.edit["prompt"] == "a green triangle" for c in made)
    for c in made:
        assert c.edit["negative_prompt"] == "circle, square"
        with Image.open(Path(r.run_dir) / c.path) as saved:
            assert (np.asarray(regenerate(c.model_dump(), r.run_dir)) == np.asarray(saved.convert("RGB"))).all()
    r = answer(r.run_id, "make the circle yellow")  # a recolour, in place: the plan's negative prompt only
    assert {c.edit["negative_prompt"] for c in r.candidates if c.round == 3} == {""}
    answer(r.run_id, "cancel")


def test_a_restyles_retries_restyle_the_image_the_person_chose_not_a_failed_restyle(tmp_path, shapes_defaults):
    """A threshold no image meets: every restyle fails, and the chat policy's retries run; each of them is a
    variation of the candidate the person restyled, compared with it, never of the last failed attempt."""
    r = run("a blue circle left of a red square", out=tmp_path, seed=3, interactive=True, policy="chat",
            candidates=2, threshold=1.0)
    r = answer(r.run_id, "yes")
    head = r.question["best_id"]
    r = answer(r.run_id, "make it look like a watercolor painting")
    m = json.loads((Path(r.run_dir) / "manifest.json").read_text())
    restyled = [c for c in m["candidates"] if c["action"] == "variation"]
    assert len({c["round"] for c in restyled}) == 1 + m["policy"]["edit_retries"] >= 2
    assert {c["edit"]["parent"] for c in restyled} == {head}
    assert {c["edit"]["parent_path"] for c in restyled} == {f"candidates/{head}.png"}


def test_a_restyle_is_a_variation_that_must_keep_every_object_where_it_was(tmp_path, shapes_defaults):
    from PIL import Image

    from limner.tools.verifiers.structure import structure

    """ "make it look like a watercolor painting": the plan's style changes, a variation of the current image
    carries it, and each of its candidates is checked for the composition (every object found near where it
    was) beside the plan's checks."""
    r = run("a blue circle left of a red square", out=tmp_path, seed=3, interactive=True, policy="chat", candidates=2)
    r = answer(r.run_id, "yes")
    head = r.question["best_id"]
    r = answer(r.run_id, "make it look like a watercolor painting")
    m = json.loads((Path(r.run_dir) / "manifest.json").read_text())
    assert m["chat"][-1]["read_as"]["kind"] == "restyle" and "watercolor" in m["plan"]["style"]
    restyled = [c for c in m["candidates"] if c["round"] == 2]
    kept = restyled[0]["edit"]["target"]["expect"]["kept"]
    assert restyled and all(c["action"] == "variation" and c["edit"]["parent"] == head for c in restyled)
    assert sorted(k["object"] for k in kept) == [0, 1]
    for c in restyled:  # answered where every object was found again; else unanswered, never passed
        asked = c["scores"]["intent"]["detail"]["questions"][0]
        missing = [f for f in c["scores"]["questions"]["detail"]["findings"]
                   if f["kind"] == "object" and f["status"] == "missing"]
        assert asked["question"] == "is every object where it was?"
        assert (asked["counted"] is None) == bool(missing) and not (asked["counted"] is None and asked["passed"])
        # and its outlines against the image it restyled (shapes-tiny's alias says restyle_structure)
        outlines = structure(Image.open(Path(r.run_dir) / c["edit"]["parent_path"]).convert("RGB"),
                             Image.open(Path(r.run_dir) / c["path"]).convert("RGB"))
        assert c["scores"]["structure"]["raw"] == round(outlines.worst_window, 4)
        assert c["scores"]["structure"]["detail"]["questions"][0]["passed"] == outlines.passed
        assert "unchecked" not in c["edit"]["target"]
