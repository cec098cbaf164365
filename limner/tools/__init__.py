"""Limner's tools: generators, verifiers (and, later, editors and search strategies).

Every tool here is usable from plain Python without the agent's graph. Heavy
libraries (torch, diffusers, transformers) are imported inside functions so that
importing this package stays cheap.
"""
