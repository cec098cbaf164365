"""One client for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Structured output: the pydantic schema is sent as a JSON-schema response format
(falling back to JSON mode, then to plain text, for servers that reject it), the
answer is always validated with pydantic, and an invalid answer gets exactly one
repair attempt before an ``LLMError``. Transport retries with backoff on 429/5xx
and timeouts are the ``openai`` package's own (``max_retries``). Each logical call
counts against ``allowance`` (the run's LLM budget) and is logged to SQLite.
"""

from __future__ import annotations

import threading
import time
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from limner.agent.config import Settings
from limner.agent.errors import BudgetExhausted, LLMError
from limner.agent.llm.log import CallLog

T = TypeVar("T", bound=BaseModel)

_FORMATS = ("json_schema", "json_object", "none")


def _safe_url(url: str | None) -> str:
    """The endpoint without any user:password part, for logs and manifests."""
    if not url:
        return "https://api.openai.com/v1"
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _short(exc: ValidationError) -> str:
    errs = exc.errors()
    first = errs[0]
    where = ".".join(str(p) for p in first["loc"]) or "answer"
    more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"{where}: {first['msg']}{more}"


class LLMClient:
    def __init__(self, settings: Settings, *, log: CallLog | None = None, run_id: str | None = None,
                 allowance: int | None = None):
        if not settings.llm_configured:
            raise LLMError("no LLM endpoint configured: set LIMNER_LLM_BASE_URL (and LIMNER_LLM_MODEL)")
        self.settings = settings
        self.endpoint = _safe_url(settings.llm_base_url)
        self.model = settings.llm_model or "gpt-4o-mini"
        self.vision_model = settings.vlm_model or self.model
        self.log = log
        self.run_id = run_id
        self.allowance = allowance  # logical calls still allowed; None = unlimited
        self.calls = 0
        self._lock = threading.Lock()  # verifiers call concurrently
        self._format = "json_schema"
        self._logprobs = True
        self._temperature = True  # False once the server refused a temperature
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from openai import OpenAI

            key = self.settings.api_key.get_secret_value() if self.settings.api_key else "not-needed"
            self._client = OpenAI(
                base_url=self.settings.llm_base_url, api_key=key,
                timeout=self.settings.llm_timeout, max_retries=self.settings.llm_max_retries,
            )
        return self._client

    def describe(self) -> dict:
        return {"endpoint": self.endpoint, "model": self.model, "vision_model": self.vision_model}

    def can_call(self) -> bool:
        return self.allowance is None or self.calls < self.allowance

    def _spend(self) -> None:
        with self._lock:
            if not self.can_call():
                raise BudgetExhausted(f"LLM call budget spent ({self.calls} calls)")
            self.calls += 1

    def _response_format(self, schema: type[BaseModel]) -> dict | None:
        if self._format == "json_schema":
            return {"type": "json_schema",
                    "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema(), "strict": False}}
        if self._format == "json_object":
            return {"type": "json_object"}
        return None

    def _request(self, messages: list[dict], model: str, purpose: str, schema: type[BaseModel] | None = None,
                 **extra):
        """One logical call (transport retries are the openai package's); returns the first choice."""
        import openai

        while True:
            self._spend()
            kwargs = {"model": model, "messages": messages, **extra}
            fmt = self._response_format(schema) if schema is not None else None
            if fmt is not None:
                kwargs["response_format"] = fmt
            start = time.perf_counter()
            error = content = usage = None
            try:
                response = self.client.chat.completions.create(**kwargs)
                choice = response.choices[0]
                usage = response.usage
                if getattr(choice.message, "refusal", None):
                    error = f"the model refused: {choice.message.refusal}"
                    raise LLMError(error)
                content = choice.message.content or ""
                return choice
            except openai.BadRequestError as exc:
                error = f"HTTP 400: {exc.message}"
                text = str(exc).lower()
                if fmt is not None and ("response_format" in text or "json" in text):
                    self._format = _FORMATS[_FORMATS.index(self._format) + 1]
                    continue  # the server rejected the format: ask again in a simpler mode
                if "max_tokens" in extra and "max_tokens" in text:  # reasoning models take max_completion_tokens
                    extra = {("max_completion_tokens" if k == "max_tokens" else k): v for k, v in extra.items()}
                    continue
                if "temperature" in extra and "temperature" in text:  # some reasoning models take none
                    extra = {k: v for k, v in extra.items() if k != "temperature"}
                    self._temperature = False
                    continue
                if "logprobs" in extra and "logprob" in text:
                    extra = {k: v for k, v in extra.items() if k not in {"logprobs", "top_logprobs"}}
                    self._logprobs = False
                    continue  # the server has no log-probabilities: ask for the plain answer
                raise LLMError(f"LLM endpoint {self.endpoint} rejected the request: {exc.message}") from None
            except openai.APITimeoutError:
                error = f"timeout after {self.settings.llm_timeout}s"
                raise LLMError(f"LLM endpoint {self.endpoint} did not answer within {self.settings.llm_timeout:g}s "
                               f"({self.settings.llm_max_retries} retries)") from None
            except openai.APIConnectionError:
                error = "connection failed"
                raise LLMError(f"cannot reach LLM endpoint {self.endpoint}") from None
            except openai.APIStatusError as exc:
                error = f"HTTP {exc.status_code}"
                raise LLMError(f"LLM endpoint {self.endpoint} answered HTTP {exc.status_code} "
                               f"after {self.settings.llm_max_retries} retries") from None
            finally:
                if self.log is not None:
                    self.log.record(run_id=self.run_id, purpose=purpose, endpoint=self.endpoint, model=model,
                                    messages=messages, response=content, error=error,
                                    seconds=time.perf_counter() - start, usage=usage)

    def _complete(self, messages: list[dict], schema: type[BaseModel], model: str, purpose: str) -> str:
        extra = {"max_tokens": self.settings.llm_max_tokens}
        if self.settings.llm_temperature is not None and self._temperature:
            extra["temperature"] = self.settings.llm_temperature
        return self._request(messages, model, purpose, schema, **extra).message.content or ""

    def yes_probability(self, messages: list[dict], *, purpose: str, model: str | None = None) -> float:
        """P(yes) for a yes/no question: from the first token's log-probabilities when the server gives
        them (VQAScore-style), else 1.0 or 0.0 from a one-word answer, validated (one repair as JSON)."""
        import math

        model = model or self.vision_model
        extra = {"max_tokens": 1, "logprobs": True, "top_logprobs": 5} if self._logprobs else {"max_tokens": 3}
        choice = self._request(messages, model, purpose, **extra)
        logprobs = getattr(choice, "logprobs", None)
        if logprobs is not None and logprobs.content:
            mass = {"yes": 0.0, "no": 0.0}
            for entry in logprobs.content[0].top_logprobs or []:
                word = entry.token.strip().lower()
                if word in mass:
                    mass[word] += math.exp(entry.logprob)
            if mass["yes"] + mass["no"] > 0:
                return mass["yes"] / (mass["yes"] + mass["no"])
        word = (choice.message.content or "").strip().lower().rstrip(".!")
        if word in {"yes", "no"}:
            return 1.0 if word == "yes" else 0.0
        from limner.tools.verifiers.answerers import YesNo

        repaired = self.structured(messages, YesNo, purpose=purpose + ":repair", model=model)
        return 1.0 if repaired.answer == "yes" else 0.0

    def structured(self, messages: list[dict], schema: type[T], *, purpose: str, model: str | None = None,
                   vision: bool = False) -> T:
        """Ask for an answer matching ``schema``; validate it; repair once; else raise ``LLMError``."""
        model = model or (self.vision_model if vision else self.model)
        import json

        instruction = ("Answer with one JSON object and nothing else, matching this JSON schema: "
                       + json.dumps(schema.model_json_schema()))
        messages = list(messages)
        if messages and messages[0].get("role") == "system":  # one system message per request
            messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{instruction}"}
        else:
            messages = [{"role": "system", "content": instruction}] + messages
        content = self._complete(messages, schema, model, purpose)
        try:
            return schema.model_validate_json(content)
        except ValidationError as exc:
            problem = _short(exc)
        if not self.can_call():
            raise LLMError(f"the {purpose} answer was invalid ({problem}) and no LLM budget is left to repair it")
        repair = messages + [
            {"role": "assistant", "content": content},
            {"role": "user", "content": f"That answer was not valid ({problem}). Answer again with only the "
                                         "JSON object, matching the schema exactly."},
        ]
        content = self._complete(repair, schema, model, purpose + ":repair")
        try:
            return schema.model_validate_json(content)
        except ValidationError as exc:
            raise LLMError(f"the {purpose} answer was still invalid after one repair: {_short(exc)}") from None
