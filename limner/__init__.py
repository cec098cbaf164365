"""Limner: an agent that plans image generations, runs diffusion models, verifies the results and keeps working
until the image passes.

Its subpackages are its rooms: ``limner.tools`` (generators, editors, verifiers, search strategies, the shapes
world: each usable alone), ``limner.agent`` (the plan-generate-verify-decide graph, its front doors and run
store), ``limner.bench`` (every measurement, ``limner bench ...``), and the data ``limner.prompts`` and
``limner.policies``. A module's import path is its file path.

Public API (imported lazily, so ``import limner`` stays cheap)::

    from limner import run, resume, answer, run_batch
    result = run("two red circles and a blue square", seed=1)
    print(result.final_path, result.score, result.stop_reason)
"""

from __future__ import annotations

__all__ = ["Brief", "Policy", "RunResult", "UsageError", "answer", "load_policy", "resume", "run", "run_batch"]


def __getattr__(name: str):
    if name in __all__:
        from limner import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'limner' has no attribute {name!r}")
