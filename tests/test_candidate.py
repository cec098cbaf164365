"""A candidate has one typed shape (``limner.agent.candidate.Candidate``) wherever it is written."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from limner.agent._run.store import RunStore
from limner.agent.candidate import Candidate, validated

RECORD = {"id": "r01-c00", "round": 1, "index": 0, "seed": 7, "noise": {"kind": "gaussian", "seed": 7},
          "strategy": "random", "action": "initial", "model": "builtin:shapes-tiny", "model_alias": "shapes-tiny",
          "model_revision": None, "family": "gligen", "prompt": "a red circle", "negative_prompt": "",
          "plan_version": 1, "nfe": 40, "grounded": {"regions": [], "beta": 0.5}}


def test_a_record_keeps_what_a_strategy_added_and_leaves_out_what_was_never_set():
    out = validated({**RECORD, "scores": {"clipscore": {"score": 0.7, "raw": 0.31}}, "score": 0.7})
    assert out["grounded"] == RECORD["grounded"]  # an extra field, kept as it is
    assert "parent" not in out and "edit" not in out  # not set: not written as null
    typed = Candidate.model_validate(out)
    assert typed.scores["clipscore"].score == 0.7 and typed.record() == out


@pytest.mark.parametrize("bad", [{"id": "c00"}, {"round": 0}, {"nfe": -1}, {"family": None},
                                 {"scores": {"clipscore": {"raw": 0.3}}}])
def test_a_malformed_candidate_is_refused_before_anything_is_written(tmp_path, bad):
    store = RunStore(tmp_path / "run")
    store.dir.mkdir()
    with pytest.raises(ValidationError):
        store.save_candidate({**RECORD, **bad}, b"\x89PNG not really")
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("r01-c00.json"))


def test_a_saved_candidate_reads_back_as_it_was_validated(tmp_path):
    store = RunStore(tmp_path / "run")
    store.dir.mkdir()
    saved = store.save_candidate(dict(RECORD), b"png bytes")
    assert saved["path"] == "candidates/r01-c00.png" and len(saved["sha256"]) == 64
    assert store.saved_candidate("r01-c00") == saved
