"""A third-party distribution adds a model, a verifier and a strategy through entry points; a policy uses them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a subprocess run of the agent

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = '''
from limner.tools.generators.models import ModelSpec
from limner.tools.search.random import RandomSearch
from limner.tools.verifiers.base import Score


class Brightness:
    """Mean brightness: a verifier in one class."""
    name = "brightness"
    differentiable = False
    llm_calls_per_image = 0

    def __init__(self, **options):
        pass

    def score(self, images, prompts):
        import numpy as np
        values = [float(np.asarray(im, dtype=np.float32).mean() / 255.0) for im in images]
        return [Score(score=v, raw=v) for v in values]


class Again(RandomSearch):
    description = "fresh noise, from a plugin"


SPEC = ModelSpec("x", "builtin:tiny-random-sd", "sd", 2, 1.0, 64, 64, description="an alias from a plugin")
'''


def _distribution(site: Path) -> None:
    """A plugin distribution as pip leaves one in site-packages: its module and its .dist-info."""
    (site / "limner_plugin_demo.py").write_text(PLUGIN)
    info = site / "limner_plugin_demo-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: limner-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[limner.models]\nplugin-model = limner_plugin_demo:SPEC\n\n"
        "[limner.verifiers]\nbrightness = limner_plugin_demo:Brightness\nbroken = limner_plugin_demo:Missing\n\n"
        "[limner.strategies]\nagain = limner_plugin_demo:Again\nrandom = limner_plugin_demo:Again\n")


def test_a_plugin_model_verifier_and_strategy_are_used_by_name_from_a_policy(tmp_path):
    import os

    import yaml

    site = tmp_path / "site"
    site.mkdir()
    _distribution(site)
    policy = tmp_path / "plugin.yaml"
    policy.write_text(yaml.safe_dump({"name": "plugin", "planner": "rules", "threshold": 1.0, "max_rounds": 2,
                                      "candidates_per_round": 2, "verifiers": [{"name": "brightness"}],
                                      "actions": ["again"]}))
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-m", "limner.agent.cli", "run", "a red circle", "--model", "plugin-model",
                           "--policy", str(policy), "--out", str(tmp_path / "runs"), "--json", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads(Path(json.loads(done.stdout)["manifest_path"]).read_text())
    assert manifest["model"]["alias"] == "plugin-model" and manifest["model"]["steps"] == 2
    assert [r["strategy"] for r in manifest["rounds"]] == ["random", "again"]
    assert set(manifest["candidates"][0]["scores"]) == {"brightness"}
    listing = subprocess.run([sys.executable, "-c", "from limner.tools import plugins, verifiers, search;"
                              "print(plugins.skipped())"], capture_output=True, text=True, env=env, cwd=ROOT)
    skipped = listing.stdout
    assert "strategies plugin 'random' (limner_plugin_demo:Again) skipped: a built-in has that name" in skipped
    assert "verifiers plugin 'broken' (limner_plugin_demo:Missing) could not be loaded" in skipped


def test_the_builtins_are_declared_as_entry_points_too():
    """Limner's own verifiers and strategies are in its entry points as a plugin's would be (no drift)."""
    import tomllib

    from limner.tools.search.registry import BUILTIN as STRATEGIES
    from limner.tools.verifiers import BUILTIN as VERIFIERS

    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert set(points["limner.verifiers"]) == set(VERIFIERS)
    assert set(points["limner.strategies"]) == set(STRATEGIES)
    assert points["limner.models"] == {"builtin": "limner.tools.generators.models:BUILTIN"}
