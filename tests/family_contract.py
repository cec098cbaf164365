"""The real-model contract: every family, through the CLI, as a user with downloaded weights has it.

Tiny random components of each family's real architecture are saved as diffusers folders and laid out in a
Hugging Face cache under the real repo ids (with a tiny CLIP under CLIPScore's real default), the hub offline.
Each cell runs a command and reads what it left: a cell either works, or falls back with the reason the run
recorded; a traceback or an unexplained skip is a failure. ``tests/test_families.py`` asserts every cell;

    python tests/family_contract.py            # prints the family x (run, search, layout, edit, verify,
                                               # reproduce, NFE) table (docs/families.md holds its output)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from tiny_pipelines import (  # noqa: E402
    place_in_hf_cache, save_tiny_flux, save_tiny_gligen, save_tiny_pixart_sigma, save_tiny_sd, save_tiny_sd3,
    save_tiny_sdxl,
)

FAMILY_REPOS = {
    "sd": ("stable-diffusion-v1-5/stable-diffusion-v1-5", save_tiny_sd),
    "sdxl": ("stabilityai/stable-diffusion-xl-base-1.0", save_tiny_sdxl),
    "sd3": ("stabilityai/stable-diffusion-3.5-medium", save_tiny_sd3),
    "flux": ("black-forest-labs/FLUX.1-schnell", save_tiny_flux),
    "pixart": ("PixArt-alpha/PixArt-Sigma-XL-2-1024-MS", save_tiny_pixart_sigma),
    "gligen": ("masterful/gligen-1-4-generation-text-box", save_tiny_gligen),
}
EXTRA_REPOS = {"stabilityai/sdxl-turbo": "sdxl"}  # README examples use it too
REAL_CLIP = "openai/clip-vit-large-patch14"
POLICIES = ("default", "fast", "search", "layout", "chat", "edit", "llm-judge")
PROMPT = "a red bicycle left of a blue door"
SMALL = ["--steps", "2", "--width", "64", "--height", "64", "--candidates", "2", "--max-rounds", "2", "--seed", "1"]

# The plan a scripted LLM writes: five checks (two objects, two colours, one relation) and a layout.
PLAN = {
    "reasoning": "two objects with colours and a left-of relation",
    "rewritten_prompt": "a red bicycle on the left and a blue door on the right, photo",
    "negative_prompt": "blurry",
    "objects": [{"name": "bicycle", "count": 1, "color": "red"}, {"name": "door", "count": 1, "color": "blue"}],
    "relations": [{"subject": 0, "relation": "left of", "object": 1}],
    "checks": [
        {"id": "o0", "question": "Is there a bicycle?", "kind": "exists", "object": 0},
        {"id": "o0-color", "question": "Is the bicycle red?", "kind": "color", "object": 0, "depends_on": ["o0"]},
        {"id": "o1", "question": "Is there a door?", "kind": "exists", "object": 1},
        {"id": "o1-color", "question": "Is the door blue?", "kind": "color", "object": 1, "depends_on": ["o1"]},
        {"id": "r0", "question": "Is the bicycle left of the door?", "kind": "relation", "object": 0, "relation": 0,
         "depends_on": ["o0", "o1"]},
    ],
    "layout": {"regions": [{"phrase": "a red bicycle", "object": 0, "attributes": ["red"], "box": [0.0, 0.2, 0.45, 0.9]},
                           {"phrase": "a blue door", "object": 1, "attributes": ["blue"], "box": [0.55, 0.1, 1.0, 0.9]}],
               "background": "a street", "base_ratio": 0.3},
    "rationale": "scripted",
}


def answer_like_a_vlm(body: dict):
    """The scripted server's answers, by what the request asks for (its response schema)."""
    from scripted_openai import Reply

    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
    if schema == "PlanAnswer":
        return Reply(content=json.dumps(PLAN))
    if schema == "CheckAnswers":  # the door is never blue: the run keeps working, re-plans, repairs
        answers = [{"id": c["id"], "reasoning": "looked", "answer": "no" if c["id"] == "o1-color" else "yes"}
                   for c in PLAN["checks"]]
        return Reply(content=json.dumps({"description": "a red bicycle beside a grey door", "answers": answers}))
    if schema == "Judgement":
        crit = {"score": 6, "reason": "fine"}
        return Reply(content=json.dumps({k: crit for k in ("prompt_adherence", "object_correctness", "composition",
                                                          "quality", "artifacts")}))
    return Reply(status=500, error=f"the scripted VLM has no answer for {schema or 'this request'}")


def build_hub(root: Path) -> dict[str, Path]:
    """Tiny folders of every family in ``root/models`` and the HF cache ``root/hub`` under the real ids."""
    from limner.tools.generators.tiny import ensure_tiny_clip

    models, hub = root / "models", root / "hub"
    folders = {}
    for family, (repo, save) in FAMILY_REPOS.items():
        folder = models / family
        if not (folder / "model_index.json").is_file():
            save(folder)
        place_in_hf_cache(folder, hub, repo)
        folders[family] = folder
    for repo, family in EXTRA_REPOS.items():
        place_in_hf_cache(folders[family], hub, repo)
    place_in_hf_cache(ensure_tiny_clip(models / "clip"), hub, REAL_CLIP)
    return folders


def _set_env(values: dict) -> None:
    """Set each variable, or remove it where the value is None."""
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class Contract:
    """Runs the cells in this process (pipelines load once) with ``typer``'s test runner."""

    def __init__(self, root: Path, llm_url: str | None = None):
        self.root = root
        self.llm_url = llm_url
        self.results: dict[str, dict[str, str]] = {}
        self.problems: list[str] = []

    def cli(self, args: list[str], llm: bool = False):
        from typer.testing import CliRunner

        from limner.agent.cli import app

        env = {"LIMNER_LLM_BASE_URL": self.llm_url if llm else None, "LIMNER_LLM_MODEL": "scripted-vlm" if llm else None,
               "OPENAI_API_KEY": "sk-contract-secret" if llm else None, "LIMNER_CLIP_MODEL": None, "LIMNER_MODEL": None}
        old = {k: os.environ.get(k) for k in env}
        try:
            _set_env(env)
            return CliRunner().invoke(app, args, catch_exceptions=True)
        finally:
            _set_env(old)

    def fail(self, family: str, what: str, text: str) -> str:
        self.problems.append(f"{family} {what}: {text}")
        return f"FAILS: {text}"

    def run_cell(self, family: str, policy: str, llm: bool) -> dict | str:
        repo = FAMILY_REPOS[family][0]
        out = self.root / "runs" / family / f"{policy}-{'llm' if llm else 'offline'}"
        done = self.cli(["run", PROMPT, "--model", repo, "--policy", policy, "--out", str(out), "--json", *SMALL], llm)
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            import traceback

            return self.fail(family, f"run {policy}", "".join(traceback.format_exception(done.exception))[-400:])
        if done.exit_code == 2:
            lines = done.output.strip().splitlines()
            return f"refused: {lines[-1]}" if len(lines) == 1 else self.fail(family, f"run {policy}", done.output[-300:])
        try:
            result = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            return self.fail(family, f"run {policy}", done.output[-300:])
        manifest = json.loads(Path(result["manifest_path"]).read_text())
        manifest["_dir"] = str(Path(result["manifest_path"]).parent)  # for the reproduce and edit cells
        if result["final_path"] is None or not Path(result["final_path"]).is_file():
            return self.fail(family, f"run {policy}", f"no final.png ({result['stop_reason']})")
        return manifest

    # --- what a manifest says about a cell ------------------------------------------------------
    @staticmethod
    def strategies(manifest: dict) -> list[str]:
        return [r["strategy"] for r in manifest["rounds"]]

    @staticmethod
    def fallbacks(manifest: dict) -> list[str]:
        notes = [r["layout"] for r in manifest["rounds"]
                 if r.get("layout") and not r.get("regional") and not r.get("grounded")]
        for d in manifest["decisions"]:
            notes += d.get("skipped", [])
            if "cannot run" in d.get("reason", "") or "no allowed action" in d.get("reason", ""):
                notes.append(d["reason"])
        return list(dict.fromkeys(notes))

    def nfe_ok(self, family: str, manifest: dict) -> str | None:
        spent, limit = manifest["budgets"]["spent"]["nfe"], manifest["budgets"]["limits"]["nfe"]
        charged = sum(r["nfe_charged"] for r in manifest["rounds"])
        if spent > limit or spent != charged:
            return self.fail(family, "nfe", f"spent {spent}, rounds charged {charged}, limit {limit}")
        llm = manifest["budgets"]["spent"]["llm_calls"]
        if llm > manifest["budgets"]["limits"]["llm_calls"]:
            return self.fail(family, "llm", f"{llm} LLM calls over the limit")
        return None

    def reproduce(self, family: str, manifest: dict, run_dir: Path) -> tuple[int, int, list[str]]:
        """Regenerate every candidate; (identical, within one level, failures)."""
        import numpy as np
        from PIL import Image

        from limner.agent.reproduce import regenerate

        same = close = 0
        bad = []
        for entry in manifest["candidates"]:
            try:
                image = regenerate(entry, run_dir)
            except Exception as exc:  # noqa: BLE001 - every failure is reported in the table
                bad.append(f"{entry['id']}: {type(exc).__name__}: {exc}")
                continue
            with Image.open(run_dir / entry["path"]) as im:
                saved = np.asarray(im.convert("RGB"), dtype=np.int16)
            diff = int(np.abs(np.asarray(image.convert("RGB"), dtype=np.int16) - saved).max())
            if diff == 0:
                same += 1
            elif diff <= 1 and entry.get("sampler") == "limner-loop":  # a replayed path (see reproduce.py)
                close += 1
            else:
                bad.append(f"{entry['id']} ({entry.get('sampler')}): differs by {diff}")
        return same, close, bad

    def family(self, family: str) -> dict[str, str]:
        row: dict[str, str] = {}
        manifests: dict[str, dict] = {}
        for llm in (False, True):
            for policy in POLICIES:
                got = self.run_cell(family, policy, llm)
                key = f"{policy}{' +llm' if llm else ''}"
                manifests[key] = got
        offline, with_llm = ({k: v for k, v in manifests.items() if k.endswith("+llm") == flag} for flag in (False, True))

        def summary(cells: dict) -> str:
            parts = []
            for key, m in cells.items():
                name = key.replace(" +llm", "")
                if isinstance(m, str):
                    parts.append(f"{name}: {m}")
                else:
                    parts.append(f"{name}: {m['status']}")
            return "; ".join(parts)

        row["run"] = summary(offline)
        row["run with LLM/VLM"] = summary(with_llm)
        search = manifests["search +llm"] if isinstance(manifests["search +llm"], dict) else manifests["search"]
        row["search"] = self._feature(family, search, lambda m: ", ".join(
            s for s in dict.fromkeys(self.strategies(m)) if s != "random") or None)
        layout = manifests["layout"]
        row["layout"] = self._feature(family, layout, lambda m: "grounded rounds from the plan's boxes" if any(
            r.get("grounded") for r in m["rounds"]) else "regional rounds from the plan's layout" if any(
            r.get("regional") for r in m["rounds"]) else None)
        row["edit"] = self.edit_cell(family, offline)
        row["verify"] = self.verify_cell(family, offline)
        nfe = []
        total_same = total_close = 0
        failures = []
        for key, m in list(manifests.items()) + list(self._edit_manifests.items()):
            if isinstance(m, str):
                continue
            run_dir = Path(m["_dir"])
            s, c, bad = self.reproduce(family, m, run_dir)
            total_same, total_close, failures = total_same + s, total_close + c, failures + bad
            why = self.nfe_ok(family, m)
            if why:
                nfe.append(f"{key}: {why}")
        if failures:
            row["reproduce"] = self.fail(family, "reproduce", "; ".join(failures[:3]))
        else:
            row["reproduce"] = (f"works: {total_same} candidates bit-identical"
                                + (f", {total_close} replayed paths within one level" if total_close else ""))
        row["NFE"] = "; ".join(nfe) if nfe else "works: spent = sum of rounds' charges <= budget, LLM calls <= budget"
        return row

    def _feature(self, family: str, manifest, works) -> str:
        if isinstance(manifest, str):
            return manifest
        notes = self.fallbacks(manifest)
        what = works(manifest)
        if what is None:
            return f"falls back: {' | '.join(notes)}" if notes else self.fail(family, "feature", "unused, no reason given")
        return f"works ({what})" + (f"; falls back: {' | '.join(notes)}" if notes else "")

    def edit_cell(self, family: str, runs: dict) -> str:
        self._edit_manifests = {}
        source = next((m for m in runs.values() if isinstance(m, dict)), None)
        if source is None:
            return self.fail(family, "edit", "no run made an image to edit")
        image = Path(source["_dir"]) / "final.png"
        repo = FAMILY_REPOS[family][0]
        parts = []
        for label, extra in (("whole image", []), ("box", ["--box", "0.5,0,1,1"])):
            out = self.root / "edits" / family / label.replace(" ", "-")
            done = self.cli(["edit", str(image), "a blue door", "--model", repo, "--out", str(out), "--json",
                             "--steps", "2", "--candidates", "2", "--max-rounds", "2", "--seed", "2", *extra])
            if done.exception is not None and not isinstance(done.exception, SystemExit):
                parts.append(self.fail(family, f"edit {label}", repr(done.exception)))
                continue
            if done.exit_code == 2 and len(done.output.strip().splitlines()) == 1:
                parts.append(f"{label}: falls back: {done.output.strip().removeprefix('error: ')}")
                continue
            try:
                result = json.loads(done.stdout[done.stdout.index("{"):])
            except ValueError:
                parts.append(self.fail(family, f"edit {label}", done.output[-300:]))
                continue
            m = json.loads(Path(result["manifest_path"]).read_text())
            m["_dir"] = str(Path(result["manifest_path"]).parent)
            self._edit_manifests[f"edit {label}"] = m
            notes = self.fallbacks(m)
            parts.append(f"{label}: {m['status']} ({', '.join(self.strategies(m))})"
                         + (f"; falls back: {' | '.join(notes)}" if notes else ""))
        return "; ".join(parts)

    def verify_cell(self, family: str, runs: dict) -> str:
        source = next((m for m in runs.values() if isinstance(m, dict)), None)
        if source is None:
            return self.fail(family, "verify", "no image")
        image = Path(source["_dir"]) / "final.png"
        parts = []
        for llm in (False, True):
            done = self.cli(["verify", str(image), PROMPT, "--json"], llm)
            if done.exit_code != 0:
                parts.append(self.fail(family, "verify", done.output[-300:]))
                continue
            r = json.loads(done.stdout)
            used = [f"{n} ({v['describe'].get('model') or v['describe'].get('answerer')})" for n, v in r["verifiers"].items()]
            parts.append(("with VLM: " if llm else "") + ", ".join(used) + (f"; note: {r['notices'][0]}" if r["notices"] else ""))
        return "works: " + " / ".join(parts)

    def run_all(self, families=None) -> dict[str, dict[str, str]]:
        for family in families or FAMILY_REPOS:
            self.results[family] = self.family(family)
        return self.results


def _short(cell: str) -> str:
    if "FAILS" in cell:
        return "FAILS"
    if cell.startswith("falls back"):
        return "falls back (below)"
    if "falls back" in cell or "refused" in cell:
        return "works; part falls back (below)"
    return "works"


def table(results: dict[str, dict[str, str]]) -> str:
    columns = ["run", "run with LLM/VLM", "search", "layout", "edit", "verify", "reproduce", "NFE"]
    lines = ["| family | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for family, row in results.items():
        lines.append(f"| {family} | " + " | ".join(_short(row.get(c, "-")) for c in columns) + " |")
    lines.append("")
    for family, row in results.items():
        lines.append(f"### {family} ({FAMILY_REPOS[family][0]})\n")
        lines += [f"- **{c}**: {row.get(c, '-')}" for c in columns]
        lines.append("")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - the same contract as tests/test_families.py, printed
    import tempfile

    os.environ["HF_HUB_OFFLINE"] = "1"
    root = Path(tempfile.mkdtemp(prefix="limner-contract-"))
    os.environ["HF_HUB_CACHE"] = str(root / "hub")
    os.environ["LIMNER_HOME"] = str(root / "home")
    from scripted_openai import ScriptedOpenAI

    build_hub(root)
    with ScriptedOpenAI() as server:
        server.responder = answer_like_a_vlm
        contract = Contract(root, server.base_url)
        results = contract.run_all(sys.argv[1:] or None)
    print(table(results))
    if contract.problems:
        print("\nPROBLEMS:\n" + "\n".join(contract.problems))


if __name__ == "__main__":  # pragma: no cover
    main()
