"""The LangGraph state machine: intake -> plan -> generate -> verify -> decide -> (action | finish)."""

from __future__ import annotations

from agent._actions import ACTIONS
from agent._nodes import NODE_BUILDERS
from agent._chat_nodes import route_after_plan  # noqa: I001  (after _nodes, which it imports)
from agent._state import State


def route(state: dict) -> str:
    action = state["next_action"]
    return "finish" if action == "finish" else ACTIONS[action].node


_COMPILED = None


def shared_graph(checkpointer):
    """The graph compiled once per process (compiling inspects every node: ~50 ms), with this run's checkpointer.

    Its nodes use ``CurrentToolbox``: drive it inside ``agent._toolbox.driving(tb)``.
    """
    global _COMPILED
    if _COMPILED is None:
        from agent._toolbox import CurrentToolbox

        _COMPILED = build_graph(CurrentToolbox())
    return _COMPILED.copy({"checkpointer": checkpointer})


def build_graph(tb):
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(State)
    for name, builder in NODE_BUILDERS.items():
        graph.add_node(name, builder(tb))
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "plan")
    graph.add_edge("plan", "review_plan")  # a chat stops there; other runs pass through
    graph.add_conditional_edges("review_plan", route_after_plan,
                                {"generate": "generate", "replan": "replan", "finish": "finish"})
    graph.add_edge("generate", "verify")
    graph.add_edge("verify", "review")  # a chat stops there after each round
    graph.add_edge("review", "decide")
    targets = {"finish": "finish"} | {a.node: a.node for a in ACTIONS.values()}
    graph.add_conditional_edges("decide", route, targets)
    for action in ACTIONS.values():
        if action.node != action.then and action.node not in {"generate", "verify", "decide", "review"}:
            graph.add_edge(action.node, action.then)
    graph.add_edge("finish", END)
    return graph.compile()
