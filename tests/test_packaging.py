"""`pip install .` installs one package, `limner`, holding every subpackage and data file of the checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


ROOT = Path(__file__).resolve().parent.parent


import pytest

pytestmark = pytest.mark.slow  # builds a wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("limner-*.whl")
    return built


def test_the_wheel_holds_limner_alone_with_every_subpackage_and_data_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top == {"limner"}, top
    for source in (ROOT / "limner").rglob("*.py"):  # every module of the checkout, at its own path
        assert source.relative_to(ROOT).as_posix() in names, source
    for data in ("limner/prompts/plan_system.md", "limner/prompts/vqa_checks.md", "limner/policies/default.yaml",
                 "limner/tools/shapes/data/shapes_eval.jsonl"):
        assert data in names, data
    assert any(n.startswith("limner/tools/shapes/weights/shapes-tiny/") and n.endswith(".safetensors") for n in names)
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert "limner = limner.agent.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()


GRAPH = """
import grimp, json
graph = grimp.build_graph("limner", include_external_packages=False)
edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
print(json.dumps(edges))
"""


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_and_tools_never_imports_agent(wheel, tmp_path):
    """grimp's import graph of the installed package, every import counted (function-level ones too)."""
    import json

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    done = subprocess.run([sys.executable, "-c", GRAPH], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    edges = json.loads(done.stdout)
    assert len(edges) > 100  # the whole package was read
    assert _cycles(edges) == []
    upward = [(a, b) for a, targets in edges.items() for b in targets
              if a.startswith("limner.tools") and b.startswith("limner.agent")]
    assert upward == []
