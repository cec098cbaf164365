"""The OpenAI-compatible LLM client and its SQLite call log."""

from limner.agent.llm.client import LLMClient

__all__ = ["LLMClient", "home_client"]


def home_client(settings, run_id: str | None = None) -> LLMClient:
    """A client for ``settings`` that logs every call to ``$LIMNER_HOME/logs.sqlite``."""
    from limner.agent.llm.log import CallLog
    from limner.tools._home import limner_home

    return LLMClient(settings, log=CallLog(limner_home() / "logs.sqlite"), run_id=run_id)
