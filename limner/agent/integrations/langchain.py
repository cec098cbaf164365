"""Limner inside LangChain and LangGraph: a tool for agents, and a compiled graph to use as a subgraph.

    from limner.agent.integrations.langchain import limner_tool, limner_subgraph
    tool = limner_tool(out="runs", policy="fast")
    result = tool.invoke({"prompt": "two red circles and a blue square", "seed": 1})
    parent.add_node("draw", limner_subgraph(out="runs"))   # reads state["prompt"], writes state["limner"]

Both return the run's result as a JSON-safe dict (``RunResult``: run id, status, final path, score, manifest).
"""

from __future__ import annotations

from typing import TypedDict

from pydantic import BaseModel, Field


class GenerateInput(BaseModel):
    prompt: str = Field(description="what the image should show")
    seed: int | None = Field(default=None, description="base seed, for a reproducible run")
    model: str | None = Field(default=None, description="model alias, hub id or diffusers folder")
    negative_prompt: str = Field(default="", description="what the image should not show")
    threshold: float | None = Field(default=None, description="score in [0, 1] that ends the run")


def _runner(out: str, defaults: dict):
    from limner.agent.runner import run

    def generate(prompt: str, **fields) -> dict:
        merged = {**defaults, **{k: v for k, v in fields.items() if v is not None}}
        return run(prompt, out=out, **merged).model_dump(exclude={"candidates"})  # an LLM reads it

    return generate


def limner_tool(out: str = "limner-runs", **defaults):
    """A LangChain ``StructuredTool`` that runs Limner on a prompt; ``defaults`` are ``Brief`` fields."""
    from langchain_core.tools import StructuredTool

    return StructuredTool.from_function(
        func=_runner(out, defaults), name="limner_generate", args_schema=GenerateInput,
        description="Generate an image that matches a prompt: Limner plans it, generates candidates, checks them "
                    "and keeps working until one passes. Returns the final image's path, its score and the run id.")


class SubgraphState(TypedDict, total=False):
    prompt: str
    seed: int
    limner: dict


def limner_subgraph(out: str = "limner-runs", **defaults):
    """A compiled LangGraph graph: ``{"prompt", "seed"?}`` in, ``{"limner": RunResult dict}`` out.

    Add it to a parent graph as a node; the run itself is checkpointed in its own run folder.
    """
    from langgraph.graph import END, START, StateGraph

    generate = _runner(out, defaults)

    def limner(state: SubgraphState) -> dict:
        return {"limner": generate(state["prompt"], seed=state.get("seed"))}

    graph = StateGraph(SubgraphState)
    graph.add_node("limner", limner)
    graph.add_edge(START, "limner")
    graph.add_edge("limner", END)
    return graph.compile()
