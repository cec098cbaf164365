"""``python -m limner.agent.cli``: the ``limner`` command."""

from limner.agent.cli import main

main()
