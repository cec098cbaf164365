"""Shared helpers for tests that run the agent."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

BASE_POLICY = {
    "name": "test",
    "planner": "rules",
    "threshold": 0.99,
    "max_rounds": 3,
    "candidates_per_round": 2,
    "budgets": {"nfe": 1000, "llm_calls": 10, "seconds": 600},
    "verifiers": [{"name": "clipscore"}],
    "actions": ["replan", "random"],
    "replan_after": 1,
    "max_replans": 1,
    "generation": {"steps": 4},
}


def policy_file(tmp_path: Path, **overrides) -> str:
    data = json.loads(json.dumps(BASE_POLICY))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path = tmp_path / f"policy-{len(list(tmp_path.glob('policy-*')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def manifest(result) -> dict:
    return json.loads(Path(result.manifest_path).read_text())
