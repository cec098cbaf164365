"""The OpenAI-compatible LLM client and its SQLite call log."""

from limner.agent.llm.client import LLMClient

__all__ = ["LLMClient"]
