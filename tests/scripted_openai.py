"""The scripted OpenAI-compatible server lives in the package (the reliability bench drives it too)."""

from limner.bench.scripted_openai import Reply, ScriptedOpenAI

__all__ = ["Reply", "ScriptedOpenAI"]
