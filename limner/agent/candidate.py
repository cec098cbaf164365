"""A candidate: one image a run made, what made it (the manifest entry that reproduces it) and how it scored.

``Candidate`` is the one shape a candidate has wherever it goes: the record saved beside its PNG
(``candidates/<id>.json``), the manifest's ``candidates``, ``RunResult.candidates`` and the service's JSON. The
graph's state carries candidates as this model's JSON (LangGraph checkpoints JSON-safe state); every place that
writes one validates it here, so a missing or mistyped field fails where it is made, not three files later.

What a strategy or an editor adds on top (``grounded``/``regional`` layout arguments, ``batch_noise``, an edit's
``edit``) is kept as extra fields: the model names what every candidate has and types what it knows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Score(BaseModel):
    """One verifier's verdict on a candidate: calibrated ``score`` in [0, 1], the verifier's ``raw`` number (or
    per-criterion numbers) and its ``detail`` (the plan's checks with their answers and boxes, for question
    verifiers)."""

    model_config = ConfigDict(extra="allow")

    score: float
    raw: float | dict | None = None
    detail: dict = Field(default_factory=dict)


class Candidate(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^r\d{2,}-c\d{2,}$", description="r<round>-c<index>, e.g. r01-c00")
    round: int = Field(ge=1)
    index: int = Field(ge=0)
    seed: int | None = Field(None, description="the seed its noise came from (None for noise that is a file)")
    noise: dict = Field(description="how its starting noise is made again: kind, seed, or a file under candidates/")
    strategy: str = Field(description="the search strategy or editor that made it")
    action: str = Field(description="the decided action of its round (initial, random, repair, variation, input, ...)")
    model: str
    model_alias: str | None = None
    model_revision: str | None = None
    family: str
    prompt: str = Field(description="the prompt the model was given (the plan's rewritten prompt)")
    negative_prompt: str = ""
    plan_version: int
    nfe: int = Field(ge=0, description="forward passes of the denoiser it cost")
    sampler: str | None = None
    details: dict = Field(default_factory=dict)
    settings: dict = Field(default_factory=dict, description="steps, guidance, size, scheduler, device, dtype")
    parent: str | None = Field(None, description="the candidate (or 'input') an edit started from")
    edit: dict | None = Field(None, description="what an edit did: editor parameters, box or mask, the parent's hash")
    path: str | None = Field(None, description="its PNG, relative to the run folder")
    sha256: str | None = None
    scores: dict[str, Score] = Field(default_factory=dict, description="verifier name -> its verdict")
    score: float | None = Field(None, description="the weighted mean of its verifiers' scores")

    def record(self) -> dict:
        """Its JSON, as the run store, the manifest and the graph's state hold it (fields never set left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def checks(self) -> dict:
        """Its plan checks: ``{"passed", "of", "failed", "unanswered"}`` (``_run.checks.check_tally``)."""
        from limner.agent._run.checks import check_tally

        return check_tally(self.record())


def validated(record: dict[str, Any]) -> dict:
    """``record`` checked against ``Candidate`` and returned as its JSON; a bad one raises pydantic's error."""
    return Candidate.model_validate(record).record()
