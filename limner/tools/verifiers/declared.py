"""What a verifier declares about itself, read without importing its weights or torch.

``Declared`` wraps a factory with its needs; ``prepare(options, where)`` says how the verifier is set up
for a run in ``where`` (which world its images come from, whether an LLM endpoint is configured): the
options to make it with (``None``: it cannot run there, and ``notice`` says why), and the LLM calls one
image's score takes. The agent, ``limner verify`` and the start-up checks all read this one answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Where:
    """Where a verifier runs: ``world`` "shapes" (the embedded models) or "real" picks default weights;
    ``parseable``: the images are drawn by the shapes world's renderer, so its exact parser can read them;
    ``llm``: an LLM/VLM endpoint is configured."""

    world: str = "real"
    parseable: bool = False
    llm: bool = False

    @classmethod
    def of(cls, spec, *, llm: bool) -> "Where":
        """Where a run with model ``spec`` (a ``ModelSpec``) judges its images."""
        from limner.tools.verifiers.requirements import world_of

        return cls(world=world_of(spec.source), parseable=spec.draws_shapes, llm=llm)


@dataclass(frozen=True)
class Prepared:
    options: dict | None  # what to make the verifier with; None: nothing can run it here
    notice: str | None = None  # a plain warning for the user (why it is skipped, or what it will judge with)
    llm_per_image: int = 0  # LLM calls scoring one image takes
    llm_per_check: int = 0  # ... plus this many per check of the plan

    @property
    def uses_llm(self) -> bool:
        """Its scores call the LLM endpoint (so search rounds, which score without one, leave it out)."""
        return self.options is not None and bool(self.llm_per_image or self.llm_per_check)

    def llm_calls(self, n_checks: int) -> int:
        if self.options is None:
            return 0
        return self.llm_per_image + self.llm_per_check * max(1, n_checks)


@dataclass(frozen=True)
class Declared:
    """A verifier factory with its declared needs.

    ``needs_llm``: every score calls an LLM endpoint; ``takes_llm``: it is given the endpoint and may use it;
    ``needs_plan``: it is given ``plan_fn`` (the plan's checks); ``differentiable``: a reward for gradient
    search; ``weights(options, world)``: the weight references it loads; ``setup(options, where)``: how it is
    set up for a run (default: as given).
    """

    factory: Callable
    needs_llm: bool = False
    takes_llm: bool = False
    needs_plan: bool = False
    differentiable: bool = False
    weights: Callable[[dict, str], list[str]] | None = None
    setup: Callable[[dict, Where], Prepared] | None = None

    def __call__(self, **options):
        return self.factory(**options)

    def prepare(self, options: dict | None, where: Where) -> Prepared:
        options = dict(options or {})
        if self.setup is not None:
            return self.setup(options, where)
        return Prepared(options, llm_per_image=int(self.needs_llm))

    def required_weights(self, options: dict | None, world: str) -> list[str]:
        return list(self.weights(dict(options or {}), world)) if self.weights else []
