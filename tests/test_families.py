"""Every model family, every shipped policy, edits, verification and reproduction, as a user runs them.

The cells come from ``tests/family_contract.py`` (tiny random components of each real architecture in a
Hugging Face cache under the real repo ids, a scripted OpenAI-compatible VLM). A cell works, falls back
with its recorded reason, or is refused in one line; a traceback or an unexplained skip fails.
"""

from __future__ import annotations

import pytest

from family_contract import FAMILY_REPOS, Contract, answer_like_a_vlm, build_hub, table

pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


COLUMNS = ["run", "run with LLM/VLM", "search", "layout", "edit", "verify", "reproduce", "NFE"]


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    import huggingface_hub.constants as hub_constants

    from scripted_openai import ScriptedOpenAI

    root = tmp_path_factory.mktemp("contract")
    mp = pytest.MonkeyPatch()
    mp.setattr(hub_constants, "HF_HUB_CACHE", str(root / "hub"))  # this module's own cache: the real repo ids
    mp.setenv("HF_HUB_CACHE", str(root / "hub"))
    try:
        build_hub(root)
        with ScriptedOpenAI() as server:
            server.responder = answer_like_a_vlm
            c = Contract(root, server.base_url)
            c.run_all()
        print(table(c.results))
        yield c
    finally:
        mp.undo()


@pytest.mark.parametrize("family", list(FAMILY_REPOS))
def test_every_cell_works_or_says_why_not(contract, family):
    row = contract.results[family]
    assert set(row) == set(COLUMNS)
    problems = [p for p in contract.problems if p.startswith(f"{family} ")]
    assert not problems, problems
    for column, cell in row.items():
        assert cell.startswith(("works", "falls back", "refused", "default:", "whole image:")), (column, cell)


def test_what_each_family_lacks_is_stated_not_skipped(contract):
    r = contract.results
    assert "zero_order" in r["sd"]["search"] and "regional" in r["sdxl"]["layout"]
    assert r["gligen"]["layout"] == "works (grounded rounds from the plan's boxes)"
    assert r["flux"]["search"].startswith("falls back: zero_order: FLUX.1 pipelines draw their own")
    for family in ("sd3", "flux"):  # MMDiT: regional by a joint-attention mask
        assert r[family]["layout"].startswith("works (regional rounds from the plan's layout)")
    assert r["pixart"]["layout"].startswith("falls back: regional attention is implemented for UNet")
    assert "box: falls back: pixart-sigma: diffusers has no inpainting pipeline for PixArt" in r["pixart"]["edit"]
    for family in ("sd", "sdxl", "sd3", "flux"):
        assert "box: best_effort" in r[family]["edit"] or "box: passed" in r[family]["edit"]


def test_every_shipped_policy_runs_with_a_vlm_answering_five_checks(contract):
    for family, row in contract.results.items():
        cells = dict(part.split(": ", 1) for part in row["run with LLM/VLM"].split("; "))
        assert set(cells) == {"default", "fast", "search", "layout", "chat", "edit", "llm-judge"}
        assert all(v in {"passed", "best_effort"} for v in cells.values()), (family, cells)
        offline = dict(part.split(": ", 1) for part in row["run"].split("; "))
        assert offline["llm-judge"].startswith("refused: error: policy 'llm-judge' uses the llm planner")


def test_real_images_are_judged_by_a_real_clip_not_the_shapes_one(contract):
    for row in contract.results.values():
        assert "clipscore (openai/clip-vit-large-patch14)" in row["verify"]
        assert "questions (vlm)" in row["verify"]


def readme_real_model_commands() -> list[list[str]]:
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "real-models.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_readme_real_model_examples_run_against_the_stand_ins(contract, tmp_path, monkeypatch):
    """The real-models page's commands, word for word, then generation settings small enough for a CPU (tiny models at the
    aliases' 512-1024 px and 30 steps would take minutes): each resolves its model from the cache and runs."""
    import shutil

    commands = readme_real_model_commands()
    assert any("sdxl-turbo" in c for c in commands) and any("./my-diffusers-folder" in c for c in commands)
    shutil.copytree(contract.root / "models" / "sd", tmp_path / "my-diffusers-folder")
    monkeypatch.chdir(tmp_path)
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(contract.root / "hub"))
    for words in commands:
        assert words[0] == "limner"
        extra = ["--steps", "1", "--width", "64", "--height", "64", "--max-rounds", "1", "--candidates", "1",
                 "--out", str(tmp_path / "runs"), "--quiet"] if words[1] == "run" else []
        done = contract.cli(words[1:] + extra)
        assert done.exit_code == 0, (words, done.output[-500:])
    finals = list((tmp_path / "runs").glob("*/final.png"))
    assert len(finals) == sum(w[1] == "run" for w in commands)


def test_an_uncached_model_without_hf_hub_offline_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    """No hub to reach and HF_HUB_OFFLINE unset: one quick attempt (counted, not timed), one line, exit 2, no run
    folder."""
    import socket
    import subprocess
    import sys
    import threading

    hub = socket.socket()  # a "hub" that hangs up on every connection, counting them
    hub.bind(("127.0.0.1", 0))
    hub.listen(16)
    hub.settimeout(0.2)
    port, attempts, stop = hub.getsockname()[1], [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = hub.accept()
            except OSError:
                continue
            attempts.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    env = {k: v for k, v in __import__("os").environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"}}
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    env["HF_HOME"] = str(tmp_path / "hf")
    try:
        done = subprocess.run([sys.executable, "-m", "limner.agent.cli", "run", "a cat", "--model",
                               "black-forest-labs/FLUX.1-schnell", "--out", str(tmp_path / "runs")],
                              capture_output=True, text=True, env=env, timeout=300)
    finally:
        stop.set()
        thread.join()
        hub.close()
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "limner pull black-forest-labs/FLUX.1-schnell" in done.stderr
    assert "hub" in done.stderr, done.stderr  # what the hub did: refused, hung up, or gave no model_index.json
    assert not (tmp_path / "runs").exists()
    # Limner's one TCP probe, then the hub client's one request for model_index.json and its immediate retries of
    # a hang-up (3 connections in all here): never the client's backoff rounds, which take ~25 s
    assert 1 <= len(attempts) <= 3, attempts


def test_pull_and_doctor_offline_and_with_a_stand_in_hub(contract, tmp_path, monkeypatch):
    """pull: offline it says so in one line; with a stand-in for the hub's download functions it fetches every
    missing requirement (pipeline and verifier weights) into the cache, after which doctor finds them all."""
    import huggingface_hub.constants as hub_constants

    import limner.agent.pull as weights
    from tiny_pipelines import place_in_hf_cache

    cache = tmp_path / "hub"
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    done = contract.cli(["doctor", "--model", "sdxl-turbo"])
    assert done.exit_code == 1 and "MISSING model" in done.output and "limner pull sdxl-turbo --policy default" in done.output
    done = contract.cli(["pull", "sdxl-turbo"])
    assert done.exit_code == 2 and "HF_HUB_OFFLINE=1: cannot download stabilityai/sdxl-turbo (2 missing)" in done.output

    fetched = []

    def stand_in_pipeline(repo, revision):
        fetched.append(repo)
        return place_in_hf_cache(contract.root / "models" / "sdxl", cache, repo)

    def stand_in_ref(ref):
        fetched.append(ref)
        return place_in_hf_cache(contract.root / "models" / "clip", cache, ref)

    monkeypatch.setattr(weights, "_download_pipeline", stand_in_pipeline)
    monkeypatch.setattr(weights, "_download_ref", stand_in_ref)
    monkeypatch.setattr("limner.tools.generators.model_files.offline", lambda: False)
    monkeypatch.setattr("limner.tools.generators.model_files.hub_unreachable", lambda timeout=5: None)
    done = contract.cli(["pull", "sdxl-turbo"])
    assert done.exit_code == 0, done.output
    assert fetched == ["stabilityai/sdxl-turbo", "openai/clip-vit-large-patch14"]
    monkeypatch.undo()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    done = contract.cli(["doctor", "--model", "sdxl-turbo"])
    assert done.exit_code == 0 and "everything this run needs is here" in done.output, done.output
    assert "@ 0123456789ab" in done.output  # the snapshot (revision) the run will load


def test_a_folder_named_like_an_alias_reproduces_from_the_folder(contract, tmp_path):
    import json
    import shutil
    from pathlib import Path

    from limner.agent.reproduce import regenerate

    folder = tmp_path / "sdxl"  # an SD 1.x folder whose name is the SDXL alias
    shutil.copytree(contract.root / "models" / "sd", folder)
    done = contract.cli(["run", "a red circle", "--model", str(folder), "--policy", "fast", "--out", str(tmp_path / "r"),
                         "--json", *["--steps", "2", "--candidates", "1", "--max-rounds", "1"]])
    assert done.exit_code == 0, done.output
    manifest_path = Path(json.loads(done.stdout[done.stdout.index("{"):])["manifest_path"])
    entry = json.loads(manifest_path.read_text())["candidates"][0]
    assert entry["model_alias"] == "sdxl" and entry["model"] == str(folder.resolve()) and entry["family"] == "sd"
    image = regenerate(entry, manifest_path.parent)
    from PIL import Image

    with Image.open(manifest_path.parent / entry["path"]) as saved:
        assert image.tobytes() == saved.convert("RGB").tobytes()


def _llm_policy(tmp_path, llm_calls: int, mode: str = "batched") -> str:
    import yaml

    path = tmp_path / f"llm-{llm_calls}-{mode}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tight", "planner": "llm", "max_rounds": 2, "candidates_per_round": 2,
        "budgets": {"nfe": 100, "llm_calls": llm_calls, "seconds": 600},
        "verifiers": [{"name": "clipscore"}, {"name": "questions", "weight": 2, "options": {"mode": mode}}],
        "actions": ["random"]}))
    return str(path)


def test_an_llm_budget_that_cannot_score_one_candidate_is_refused_before_any_generation(contract, tmp_path):
    import huggingface_hub.constants as hub_constants
    from scripted_openai import ScriptedOpenAI

    repo = FAMILY_REPOS["sd"][0]
    mp = pytest.MonkeyPatch()
    mp.setattr(hub_constants, "HF_HUB_CACHE", str(contract.root / "hub"))
    try:
        with ScriptedOpenAI() as server:
            server.responder = answer_like_a_vlm
            contract.llm_url = server.base_url
            # a plan and one VLM answer need 2 calls: 1 is refused in one line, nothing written
            done = contract.cli(["run", "a cat", "--model", repo, "--policy", _llm_policy(tmp_path, 1),
                                 "--out", str(tmp_path / "a"), "--steps", "2"], llm=True)
            assert done.exit_code == 2 and "allows 1 LLM calls, but planning and scoring one candidate take at least 2" \
                in done.output and not (tmp_path / "a").exists()
            # one request per check: the plan's checks (5, and the cat the rules reader adds to the scripted plan)
            # do not fit the 3 calls left after planning
            done = contract.cli(["run", "a cat", "--model", repo, "--policy", _llm_policy(tmp_path, 4, "per_question"),
                                 "--out", str(tmp_path / "b"), "--steps", "2", "--json"], llm=True)
            assert done.exit_code == 1, done.output
            assert "LLM call budget too small: 3 of 4 calls left after planning, scoring one candidate takes 6" in done.output
            assert not list((tmp_path / "b").glob("*/candidates/*.png")) and len(server.requests) == 1
    finally:
        mp.undo()
