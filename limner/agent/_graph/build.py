"""The LangGraph state machine: intake -> plan -> generate -> verify -> decide -> (action | finish)."""

from __future__ import annotations

from limner.agent._graph.actions import ACTIONS
from limner.agent._graph.nodes.chat import review, review_plan, route_after_plan, route_after_review
from limner.agent._graph.nodes.core import decide_node, finish, generate, intake, plan, replan, verify
from limner.agent._graph.nodes.edit import repair, variation_node
from limner.agent._graph.state import State

# node name -> node(state, runtime); the run's RunContext (its Toolbox and its Policy) is the runtime context
NODES = {
    "intake": intake, "plan": plan, "review_plan": review_plan, "review": review, "generate": generate,
    "verify": verify, "decide": decide_node, "replan": replan, "repair": repair, "variation": variation_node,
    "finish": finish,
}


def route(state: dict) -> str:
    action = state["next_action"]
    return "finish" if action == "finish" else ACTIONS[action].node


def to_review_plan(state: dict) -> str:
    """After a plan: a chat's review of it, or straight on."""
    return "review_plan" if state.get("interactive") else route_after_plan(state)


def to_review(state: dict) -> str:
    """After a verified round: a chat's review of it, or straight to the decision."""
    return "review" if state.get("interactive") else "decide"


_COMPILED = None


def shared_graph(checkpointer):
    """The graph compiled once per process (compiling inspects every node: ~50 ms), with this run's checkpointer.

    Drive it with the run's tools as the runtime context: ``graph.stream(input, config, context=RunContext.of(state, settings))``.
    """
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = build_graph()
    return _COMPILED.copy({"checkpointer": checkpointer})


def build_graph():
    from langgraph.graph import END, START, StateGraph

    from limner.agent._graph.toolbox import RunContext

    graph = StateGraph(State, context_schema=RunContext)
    for name, node in NODES.items():
        graph.add_node(name, node)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "plan")
    after_plan = {"review_plan": "review_plan", "generate": "generate", "replan": "replan", "finish": "finish"}
    # a chat stops at review_plan and review; other runs skip them (a graph step costs ~3 ms)
    graph.add_conditional_edges("plan", to_review_plan, after_plan)
    graph.add_conditional_edges("review_plan", route_after_plan, {"generate": "generate", "replan": "replan",
                                                                   "finish": "finish", "review_plan": "review_plan"})
    graph.add_edge("generate", "verify")
    graph.add_conditional_edges("verify", to_review, {"review": "review", "decide": "decide"})
    graph.add_conditional_edges("review", route_after_review, {"review": "review", "decide": "decide"})
    targets = {"finish": "finish"} | {a.node: a.node for a in ACTIONS.values()}
    graph.add_conditional_edges("decide", route, targets)
    for action in ACTIONS.values():
        if action.node == action.then or action.node in {"generate", "verify", "decide", "review"}:
            continue
        if action.then == "review_plan":
            graph.add_conditional_edges(action.node, to_review_plan, after_plan)
        else:
            graph.add_edge(action.node, action.then)
    graph.add_edge("finish", END)
    return graph.compile()
