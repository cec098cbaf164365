"""Test isolation: no network to model hubs, a private LIMNER_HOME, no user LLM settings."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
# a private, empty Hugging Face cache: tests never read (or write) the user's downloaded weights
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="limner-test-hf-")
os.environ.pop("HF_HUB_CACHE", None)
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from scripted_openai import ScriptedOpenAI  # noqa: E402

_USER_VARS = ("LIMNER_LLM_BASE_URL", "LIMNER_LLM_MODEL", "LIMNER_VLM_MODEL", "OPENAI_API_KEY", "LIMNER_API_KEY",
              "LIMNER_MODEL", "LIMNER_CLIP_MODEL", "XDG_DATA_HOME")


@pytest.fixture(scope="session")
def limner_home(tmp_path_factory):
    """One home for the session, so the tiny models are built once."""
    return tmp_path_factory.mktemp("limner-home")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, limner_home):
    for var in _USER_VARS:
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
