"""Test isolation: no network to model hubs, a private HOME and LIMNER_HOME, no ``LIMNER_*`` or OpenAI setting
of the user's (only ``LIMNER_TEST_*``, which asks for an optional test, passes through)."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
# a private, empty Hugging Face cache: tests never read (or write) the user's downloaded weights
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="limner-test-hf-")
os.environ.pop("HF_HUB_CACHE", None)
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # CI's parallel slow run: one thread per worker, or their OpenMP threads
    os.environ["OMP_NUM_THREADS"] = "1"    # spin against each other on 2 cores (torch reads it when imported)
    os.environ["MKL_NUM_THREADS"] = "1"
# an empty HOME from the start, so that session fixtures (a Ray cluster, its token) and the subprocesses tests
# start see the same one, never the user's
os.environ["HOME"] = tempfile.mkdtemp(prefix="limner-test-home-")

import pytest  # noqa: E402

from scripted_openai import ScriptedOpenAI  # noqa: E402

_USER_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")


def _user_vars() -> list[str]:
    return [v for v in os.environ if v.startswith("LIMNER_") and not v.startswith("LIMNER_TEST_")] + list(_USER_VARS)


@pytest.fixture(scope="session")
def limner_home(tmp_path_factory):
    """One home for the session, so the tiny models are built once."""
    return tmp_path_factory.mktemp("limner-home")


for _var in _user_vars():  # before any fixture, session ones included
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, limner_home):
    for var in _user_vars():  # and again, after whatever a previous test set
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LIMNER_HOME", str(limner_home))
    # The loop's tests run on the tiny random stand-ins (fast, independent of trained weights);
    # tests of the shipped shapes models use the ``shapes_defaults`` fixture.
    monkeypatch.setenv("LIMNER_MODEL", "tiny-random-sd")
    monkeypatch.setenv("LIMNER_CLIP_MODEL", "builtin:tiny-random-clip")


@pytest.fixture
def shapes_defaults(monkeypatch):
    """Limner's real defaults: shapes-tiny and shapes-clip."""
    monkeypatch.delenv("LIMNER_MODEL", raising=False)
    monkeypatch.delenv("LIMNER_CLIP_MODEL", raising=False)


@pytest.fixture
def openai_server():
    with ScriptedOpenAI() as server:
        yield server


@pytest.fixture
def llm_env(monkeypatch, openai_server):
    """Point Limner at the scripted server."""
    monkeypatch.setenv("LIMNER_LLM_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("LIMNER_LLM_MODEL", "scripted-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-key-123")
    monkeypatch.setenv("LIMNER_LLM_TIMEOUT", "5")
    monkeypatch.setenv("LIMNER_LLM_MAX_RETRIES", "1")
    return openai_server
