"""`pip install .` installs one package, `limner`, holding every subpackage and data file of the checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_limner_alone_with_every_subpackage_and_data_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("limner-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top == {"limner"}, top
    for folder in ("agent", "tools", "prompts", "policies"):  # every package of the checkout, under limner/
        for init in (ROOT / folder).rglob("__init__.py"):
            assert f"limner/{init.relative_to(ROOT).as_posix()}" in names, init
        for source in (ROOT / folder).rglob("*.py"):
            assert f"limner/{source.relative_to(ROOT).as_posix()}" in names, source
    for data in ("limner/prompts/plan_system.md", "limner/prompts/vqa_checks.md", "limner/policies/default.yaml",
                 "limner/tools/shapes/data/shapes_eval.jsonl"):
        assert data in names, data
    assert any(n.startswith("limner/tools/shapes/weights/shapes-tiny/") and n.endswith(".safetensors") for n in names)
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert "limner = limner.agent.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()
