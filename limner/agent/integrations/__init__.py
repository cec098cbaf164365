"""Limner as another agent's tool: ``mcp`` (the official MCP SDK over stdio) and ``langchain`` (a LangChain tool
and a LangGraph subgraph)."""
