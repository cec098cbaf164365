"""The intent check (``scores["intent"]``): whether a chat's move, resize, addition or restyle did what was asked,
read from the question verifier's findings."""

from limner.agent._graph.nodes.core import KEPT_SHIFT, intent_check


def _scores(*boxes):
    findings = [{"kind": "object", "index": i, "box": b, "status": "ok"} for i, b in enumerate(boxes) if b]
    return {"questions": {"score": 1.0, "detail": {"findings": findings}}}


def _cand(expect):
    return {"edit": {"target": {"object": "person", "status": "requested", "why": "", "expect": expect}}}


def _passed(record):
    return None if record["detail"]["questions"][0]["counted"] is None else record["detail"]["questions"][0]["passed"]


def test_a_restyle_keeps_every_object_where_it_was_within_its_tolerance():
    kept = [{"object": 0, "box": [0.0, 0.0, 0.4, 0.4]}, {"object": 1, "box": [0.6, 0.6, 1.0, 1.0]}]
    nudge = 0.4 * KEPT_SHIFT * 0.9  # just inside: a tenth less than the tolerance, of the larger side 0.4
    assert _passed(intent_check(_cand({"kept": kept}), _scores([nudge, 0, 0.4 + nudge, 0.4], [0.6, 0.6, 1.0, 1.0])))
    far = 0.4 * KEPT_SHIFT * 1.2
    assert not _passed(intent_check(_cand({"kept": kept}), _scores([0.0, 0.0, 0.4, 0.4],
                                                                  [0.6, 0.6 - far, 1.0, 1.0 - far])))
    # an object not found: the check has no answer (its own presence check fails), never a pass
    assert _passed(intent_check(_cand({"kept": kept}), _scores([0.0, 0.0, 0.4, 0.4], None))) is None
    # nothing found in the image restyled: no object is known to keep, so the check has no answer (not a pass)
    assert _passed(intent_check(_cand({"kept": []}), _scores([0.0, 0.0, 0.4, 0.4]))) is None


def test_a_move_passes_inside_its_box_and_a_resize_by_its_area():
    assert _passed(intent_check(_cand({"object": 0, "inside": [0.5, 0.0, 1.0, 0.5]}), _scores([0.6, 0.1, 0.9, 0.4])))
    assert not _passed(intent_check(_cand({"object": 0, "inside": [0.5, 0.0, 1.0, 0.5]}),
                                    _scores([0.1, 0.1, 0.4, 0.4])))
    grow = {"object": 0, "area_from": [0.4, 0.4, 0.6, 0.6], "grow": True}
    assert _passed(intent_check(_cand(grow), _scores([0.35, 0.35, 0.65, 0.65])))
    assert not _passed(intent_check(_cand(grow), _scores([0.4, 0.4, 0.61, 0.61])))
    assert intent_check({"edit": {}}, _scores([0, 0, 1, 1])) is None  # not a chat's edit: no check
