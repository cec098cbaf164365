"""Limner's agent: the plan -> generate -> verify -> decide state machine and its front doors.

Public API (imported lazily, so ``import agent`` stays cheap)::

    from limner.agent import run, resume
    result = run("two red circles and a blue square", seed=1)
    print(result.final_path, result.score, result.stop_reason)
"""

from __future__ import annotations

__all__ = ["Brief", "Policy", "RunResult", "UsageError", "answer", "load_policy", "resume", "run", "run_batch"]


def __getattr__(name: str):
    if name in {"run", "resume", "answer", "RunResult"}:
        from limner.agent import runner

        return getattr(runner, name)
    if name == "run_batch":
        from limner.agent.batch import run_batch

        return run_batch
    if name == "Brief":
        from limner.agent.brief import Brief

        return Brief
    if name in {"Policy", "load_policy"}:
        from limner.agent import policy

        return getattr(policy, name)
    if name == "UsageError":
        from limner.agent.errors import UsageError

        return UsageError
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
