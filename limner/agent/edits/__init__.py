"""A person's turn in a chat, read as a typed ``Intent`` (``intent``), by rules (``rules``) or an LLM (``llm``);
``apply`` turns an intent into the plan's update and the round that carries it out."""

from limner.agent.edits.intent import ALLOWED, Intent, Scene
from limner.agent.edits.read import read, read_llm, read_rules

__all__ = ["ALLOWED", "Intent", "Scene", "read", "read_llm", "read_rules"]
