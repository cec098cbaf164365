"""Limner: an agent that plans image generations, runs diffusion models, verifies the results and keeps working
until the image passes.

The repository's folders ``agent/``, ``tools/``, ``prompts/`` and ``policies/`` install as the subpackages
``limner.agent``, ``limner.tools``, ``limner.prompts`` and ``limner.policies`` (setuptools' ``package-dir``); in
a source checkout they sit beside this folder, and ``__path__`` points there too.

Public API (imported lazily, so ``import limner`` stays cheap)::

    from limner import run, resume, answer, run_batch
    result = run("two red circles and a blue square", seed=1)
    print(result.final_path, result.score, result.stop_reason)
"""

from __future__ import annotations

import os

_here = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_here, "agent")):  # a source checkout: the subpackages are the repo's folders
    __path__.append(os.path.dirname(_here))  # noqa: F821 - a package's own __path__

__all__ = ["Brief", "Policy", "RunResult", "UsageError", "answer", "load_policy", "resume", "run", "run_batch"]


def __getattr__(name: str):
    if name in __all__:
        from limner import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'limner' has no attribute {name!r}")
