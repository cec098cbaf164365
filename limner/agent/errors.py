"""Errors. ``UsageError`` is anything a user can fix: the CLI prints its one line and exits 2."""


class LimnerError(Exception):
    """Base class for Limner's own errors."""


class UsageError(LimnerError):
    """Bad input or environment (unknown model, bad policy, unwritable folder, ...): exit code 2."""


class LLMError(LimnerError):
    """The LLM endpoint failed or kept answering invalid output after the repair attempt."""


class Cancelled(LimnerError):
    """The run was asked to stop (a service's cancel, Ctrl-C): raised at its next denoising step or node. The run
    ends ``cancelled``, with every candidate it made kept and its checkpoint left to resume from."""


class BudgetExhausted(LLMError):
    """An LLM call would exceed the call allowance; nothing was spent. An ``LLMError``, so every caller's
    fallback (the rules planner, a kept plan, a dropped verifier) covers it too."""
