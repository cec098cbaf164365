"""The state machine (private): ``build`` compiles the graph; ``nodes/`` holds the nodes, one module per family
(``core``: plan, generate, verify, decide, finish; ``chat``; ``edit``; ``kit``: what they share); ``decide``,
``actions`` and ``repair`` are the decision logic as plain functions; ``state`` the state schema; ``toolbox``
the run's live tools. A person's answers are read by ``limner.agent.edits``."""
