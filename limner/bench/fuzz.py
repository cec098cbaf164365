"""Generated bad input through every front door (hypothesis): the reliability bench's fuzzing.

Each front door gets cases drawn by a hypothesis strategy: the CLI commands (``run``, ``edit``, ``verify``,
``batch``, ``show``, ``resume``, ``plan``, ``bench shapes --images``) with arguments at and past the edges
of what they take, brief files (JSONL, YAML, GenEval metadata), policy YAML, image and mask files (truncated,
corrupt, empty, decompression bombs, odd modes), MCP tool arguments, and a person's chat answers. Every case
must end in success, or in one clear line with exit code 2 (a tool error over MCP), with no traceback and no
partial run folder. Commands run in this process (click's test runner) on the tiny random model, so a case
that is valid costs a fraction of a second.
"""

from __future__ import annotations

import json
import os
import random
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from limner.bench.mutations import ODD_STRINGS

SMALL_POLICY = {"name": "fuzz", "planner": "rules", "threshold": 0.99, "max_rounds": 1, "candidates_per_round": 1,
                "budgets": {"nfe": 40, "llm_calls": 0, "seconds": 30}, "verifiers": [{"name": "clipscore"}],
                "actions": ["random"], "generation": {"steps": 2}}
ENV = {"LIMNER_MODEL": "tiny-random-sd", "LIMNER_CLIP_MODEL": "builtin:tiny-random-clip", "HF_HUB_OFFLINE": "1",
       "LIMNER_LLM_BASE_URL": None, "OPENAI_API_KEY": None, "LIMNER_API_KEY": None, "COLUMNS": "100"}
NUMBERS = ["-1", "0", "1", "2", "3", "7", "8", "64", "1001", "65536", str(2**63), "-9" * 30, "1.5", "nan", "inf",
           "-inf", "1e308", "abc", "", " ", "0x10", "١"]
TEXT_SAMPLES = ["a red circle", "two blue squares left of a green triangle", "a photo of 17 cats", "两个红色圆圈",
                "make it two green triangles", "a red circle\nin watercolour", "\u0000", "-", "--help", "x" * 5000]


@dataclass
class DoorTally:
    door: str
    cases: int = 0
    succeeded: int = 0
    refused: int = 0  # one clear line, exit 2 (or a tool error)
    tracebacks: list = field(default_factory=list)
    unclear: list = field(default_factory=list)  # failed without one clear line, or with another exit code
    partial: list = field(default_factory=list)  # failed and left a run folder behind

    def row(self) -> dict:
        return {"door": self.door, "cases": self.cases, "succeeded": self.succeeded, "refused": self.refused,
                "tracebacks": len(self.tracebacks), "unclear": len(self.unclear), "partial": len(self.partial),
                "examples": (self.tracebacks + self.unclear + self.partial)[:5]}


# --- files the cases point at ----------------------------------------------------------------------------


def _png(size=(64, 64), mode="RGB") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "1", "I;16") else (200, 30, 30) if mode == "RGB" else (200, 30, 30, 255)
              ).save(buf, format="PNG")
    return buf.getvalue()


def _bomb(side: int = 30000) -> bytes:
    """A PNG whose header claims side x side pixels: a decompression bomb as far as the header goes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def make_inputs(folder: Path) -> dict[str, str]:
    """Image and mask files of every kind a person may hand over, plus odd paths: name -> path."""
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    good = _png()
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(jpeg, format="JPEG")
    files = {
        "good.png": good, "odd-size.png": _png((65, 33)), "tiny.png": _png((1, 1)), "rgba.png": _png(mode="RGBA"),
        "gray16.png": _png(mode="I;16"), "bits.png": _png(mode="1"), "photo.jpg": jpeg.getvalue(),
        "truncated.png": good[: len(good) // 2], "flipped.png": good[:40] + bytes(b ^ 0xFF for b in good[40:80]) + good[80:],
        "empty.png": b"", "text.png": b"not an image at all\n", "bomb.png": _bomb(),
        "wide.png": _png((4096, 8)), "mask.png": _png(mode="L"),
    }
    paths = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths[name] = str(folder / name)
    (folder / "a-folder").mkdir(exist_ok=True)
    paths.update({"a-folder": str(folder / "a-folder"), "missing": str(folder / "missing.png"), "": "",
                  "dots": "../../../../etc/passwd", "dev": "/dev/zero"})
    return paths


def make_runs(folder: Path, finished_run: str | None) -> dict[str, str]:
    """Run ids and folders for show and resume: a finished run, damaged copies of it, odd ids."""
    import shutil

    ids = {"nope": "nope", "empty": "", "dots": "../..", "root": "/", "text": "20261203-000000-zzzzzz",
           "odd": "\u202e" + "x" * 300}
    if finished_run:
        base = Path(finished_run)
        ids["finished"] = str(base)
        for damage in ("manifest", "checkpoint", "record", "events", "gone"):
            copy = folder / f"damaged-{damage}"
            if not copy.exists():
                shutil.copytree(base, copy)
                if damage == "manifest":
                    (copy / "manifest.json").write_text('{"status": "pass')
                elif damage == "checkpoint":
                    (copy / "checkpoint.sqlite").write_bytes(b"garbage" * 50)
                elif damage == "record":
                    next((copy / "candidates").glob("*.json")).write_text("{")
                elif damage == "events":
                    (copy / "events.jsonl").write_bytes(b"\xff\xfe{\n" * 3)
                else:
                    shutil.rmtree(copy / "candidates")
            ids[f"damaged-{damage}"] = str(copy)
    return ids


# --- strategies ------------------------------------------------------------------------------------------


def _strategies(inputs: dict, runs: dict, policies: list[str]):
    from hypothesis import strategies as st

    text = st.one_of(st.sampled_from(TEXT_SAMPLES), st.sampled_from(ODD_STRINGS[:-1]), st.text(max_size=60))
    number = st.one_of(st.sampled_from(NUMBERS), st.integers(-10**6, 10**6).map(str))
    image = st.sampled_from(sorted(inputs.values()))
    choice = st.sampled_from

    def options(spec: dict):
        return st.lists(st.sampled_from(sorted(spec)), max_size=4, unique=True).flatmap(
            lambda names: st.tuples(*[st.tuples(st.just(n), spec[n]) for n in names]) if names else st.just(()))

    def flat(pairs):
        return [x for name, value in pairs for x in ((name,) if value is None else (name, value))]

    gen_opts = {"--steps": number, "--seed": number, "--width": number, "--height": number, "--guidance": number,
                "--threshold": number, "--max-rounds": number, "-n": number, "--planner": choice(["rules", "llm", "auto", "x", ""]),
                "--model": choice(["tiny-random-sd", "", "nope/nope", "../x", inputs["text.png"], inputs["a-folder"]]),
                "--device": choice(["cpu", "cuda", "tpu", "mps", ""]), "--dtype": choice(["float32", "float8", "int4", ""]),
                "--negative": text, "--out": choice(["out", "", "a-file", "read-only", "out/../out2"]),
                "--policy": choice(policies), "--json": st.none(), "--quiet": st.none()}
    small = ["--policy", policies[0]]  # the cheap policy unless a case names another (the last one given counts)
    run = st.tuples(text, options(gen_opts)).map(lambda t: ["run", t[0], *small, *flat(t[1])])
    edit_opts = {"--box": choice(["0,0,1,1", "0.1,0.1,0.5,0.5", "1,1,0,0", "a,b", "0.1,0.2,0.3", "nan,0,1,1", "", "-1,-1,2,2"]),
                 "--mask": image, "--steps": number, "--seed": number, "-n": number, "--max-rounds": number,
                 "--guidance": number, "--model": choice(["tiny-random-sd", "", "nope/nope"]),
                 "--policy": choice(policies), "--out": choice(["out", "a-file"]), "--json": st.none()}
    edit = st.tuples(image, text, options(edit_opts)).map(lambda t: ["edit", t[0], t[1], *small, *flat(t[2])])
    verify_opts = {"--verifier": choice(["clipscore", "questions", "nope", "", "vlm-judge"]),
                   "--planner": choice(["rules", "llm", "x"]), "--answerer": choice(["auto", "detector", "vlm", "parser", "x"]),
                   "--detector": choice(["", "nope/nope", inputs["a-folder"]]), "--json": st.none()}
    verify = st.tuples(image, text, options(verify_opts)).map(lambda t: ["verify", t[0], t[1], *flat(t[2])])
    run_id = st.sampled_from(sorted(runs.values()))
    show = st.tuples(run_id, st.booleans()).map(lambda t: ["show", t[0], *(["--json"] if t[1] else [])])
    resume = st.tuples(run_id, st.booleans()).map(lambda t: ["resume", t[0], "--quiet", *(["--json"] if t[1] else [])])
    plan_opts = {"--planner": choice(["rules", "llm", "auto", "x"]), "--policy": choice(policies),
                 "--model": choice(["tiny-random-sd", "shapes-tiny", "nope/nope", ""]), "--json": st.none()}
    plan = st.tuples(text, options(plan_opts)).map(lambda t: ["plan", t[0], *flat(t[1])])
    value = st.one_of(text, st.integers(-5, 2**64), st.floats(allow_nan=True), st.none(), st.booleans(),
                      st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
    brief = st.fixed_dictionaries({"prompt": st.one_of(text, value)}, optional={
        "seed": st.one_of(st.integers(-3, 2**63), value), "steps": st.one_of(st.integers(-3, 3), value),
        "policy": st.one_of(choice(policies), value), "model": st.one_of(choice(["tiny-random-sd", "nope/x"]), value),
        "tag": choice(["counting", "colors", "x"]), "include": st.one_of(value, st.just([{"class": "circle", "count": 1}])),
        "id": st.one_of(choice(["../escape", "a/b", "ok-1", ""]), value), "extra": value})
    briefs = st.tuples(choice(["jsonl", "yaml", "geneval", "garbage"]), st.lists(brief, min_size=0, max_size=3),
                       st.binary(max_size=200))
    batch_opts = {"--samples": number, "--seed": number, "--max-rounds": number, "-n": number, "--threshold": number,
                  "--policy": choice(policies), "--geneval-layout": st.none(), "--json": st.none()}
    batch = st.tuples(briefs, options(batch_opts))
    folder = st.tuples(st.lists(st.one_of(brief, value), max_size=2), choice(["good", "truncated", "none", "text"]))
    return {"run": run, "edit": edit, "verify": verify, "show": show, "resume": resume, "plan": plan,
            "batch": batch, "bench": folder}


# --- driving one case ------------------------------------------------------------------------------------


def installed_cli():
    """The ``limner`` command's Typer app, found as a person's shell finds it: through the installed console
    script's entry point (the bench drives the command from outside, as it drives ``limner run`` in kills.py)."""
    from importlib import import_module
    from importlib.metadata import entry_points

    [script] = entry_points(group="console_scripts", name="limner")
    return import_module(script.module).app


@contextmanager
def _environment(work: Path):
    """The fuzzing's variables, and ``work`` as the working folder (relative paths in cases land there)."""
    from limner.bench.scoped import scoped_env

    cwd = os.getcwd()
    with scoped_env(ENV):
        os.chdir(work)
        try:
            yield
        finally:
            os.chdir(cwd)


def _run_folders(work: Path) -> set[Path]:
    return {p.parent for p in work.rglob("events.jsonl")} | {p.parent for p in work.rglob("checkpoint.sqlite")}


def invoke(args: list[str], work: Path, tally: DoorTally) -> None:
    """One CLI case in this process; its outcome counted in ``tally``."""
    import traceback

    from typer.testing import CliRunner

    before = _run_folders(work)
    result = CliRunner().invoke(installed_cli(), args, catch_exceptions=True)
    tally.cases += 1
    label = json.dumps(args)[:300]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(*result.exc_info))[-600:]
        tally.tracebacks.append(f"{label}: {tb}")
        return
    stderr = [ln for ln in (result.stderr or "").splitlines() if ln.strip()]
    new = [p for p in _run_folders(work) - before if not (p / "final.png").is_file() and not (p / "manifest.json").is_file()]
    if result.exit_code in (0, 1):
        tally.succeeded += 1
    elif result.exit_code == 2 and (
            (len(stderr) == 1 and stderr[0].startswith("error: ")) or any(ln.startswith("Error: ") for ln in stderr)):
        tally.refused += 1
    else:
        tally.unclear.append(f"{label}: exit {result.exit_code}: {' | '.join(stderr)[:300]}")
    if new and result.exit_code != 0:
        tally.partial.append(f"{label}: left {', '.join(str(p.relative_to(work)) for p in new)}")


def _brief_file(work: Path, n: int, case) -> Path:
    kind, briefs, garbage = case
    path = work / f"briefs-{n}.{ {'jsonl': 'jsonl', 'yaml': 'yaml', 'geneval': 'jsonl', 'garbage': 'jsonl'}[kind] }"
    if kind == "garbage":
        path.write_bytes(garbage)
    elif kind == "yaml":
        try:
            path.write_text(yaml.safe_dump(briefs, allow_unicode=True))
        except (yaml.YAMLError, ValueError):
            path.write_bytes(garbage)
    else:
        if kind == "geneval":
            briefs = [{**b, "tag": b.get("tag", "counting"), "include": b.get("include", [])} for b in briefs]
        path.write_text("".join(json.dumps(b, ensure_ascii=False, default=str) + "\n" for b in briefs))
    return path


def _geneval_folder(work: Path, n: int, case) -> Path:
    items, image = case
    root = work / f"geneval-{n}"
    for i, item in enumerate(items):
        sub = root / f"{i:05d}" / "samples"
        sub.mkdir(parents=True)
        (sub.parent / "metadata.jsonl").write_text(json.dumps(item, ensure_ascii=False, default=str) + "\n")
        if image != "none":
            data = _png() if image == "good" else _png()[:50] if image == "truncated" else b"text"
            (sub / "0000.png").write_bytes(data)
    root.mkdir(exist_ok=True)
    return root


def policy_files(work: Path, count: int, seed: int) -> list[str]:
    """The small policy, and ``count`` mutations of it (wrong types, missing fields, odd strings, bad YAML)."""
    from limner.bench.mutations import mutations

    paths = [work / "small.yaml"]
    paths[0].write_text(yaml.safe_dump(SMALL_POLICY))
    cases = mutations(SMALL_POLICY, seed=seed)
    rng = random.Random(seed)
    for i, mutation in enumerate(rng.sample(cases, min(count, len(cases)))):
        path = work / f"policy-{i}.yaml"
        text = mutation.content or ""
        try:  # a policy is YAML: the JSON mutations, written as YAML where they still parse
            text = yaml.safe_dump(json.loads(text), allow_unicode=True)
        except (ValueError, yaml.YAMLError):
            pass
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        paths.append(path)
    return [str(p) for p in paths] + ["nope", "", str(work / "missing.yaml")]


def fuzz_cli(work: Path, per_door: dict[str, int], seed: int = 0) -> list[dict]:
    """Hypothesis-generated cases through each CLI front door: one row per door."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    work.mkdir(parents=True, exist_ok=True)
    (work / "a-file").write_text("a file where a folder should be\n")
    (work / "read-only").mkdir(exist_ok=True)
    os.chmod(work / "read-only", 0o555)
    rows = []
    with _environment(work):
        inputs = make_inputs(work / "inputs")
        (work / "policies").mkdir(exist_ok=True)
        policies = policy_files(work / "policies", 40, seed)
        finished = _finished_run(work, policies[0])
        runs = make_runs(work / "runs-for-show", finished)
        strategies = _strategies(inputs, runs, policies)
        for door, n in per_door.items():
            if door not in strategies:
                continue
            tally = DoorTally(door)
            case = _case(door, work, tally)
            run_cases = settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                                 suppress_health_check=list(HealthCheck))(fixed_seed(seed)(given(strategies[door])(case)))
            run_cases()
            rows.append(tally.row())
    return rows


def _case(door: str, work: Path, tally: DoorTally):
    counter = iter(range(10**9))

    def case(args):
        i = next(counter)
        if door == "batch":
            brief_case, opts = args
            path = _brief_file(work, i, brief_case)
            args = ["batch", str(path), "--out", f"batch-{i}", "--policy", str(work / "policies" / "small.yaml"), *[x for k, v in opts for x in ((k,) if v is None else (k, v))]]
        elif door == "bench":
            args = ["bench", "shapes", "--images", str(_geneval_folder(work, i, args)), "--results", f"bench-{i}.json"]
        invoke(args, work, tally)

    return case


def _finished_run(work: Path, policy: str) -> str | None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(installed_cli(), ["run", "a red circle", "--policy", policy, "--out", "seed-run",
                                      "--json", "--quiet"])
    try:
        return json.loads(result.stdout)["run_dir"]
    except (ValueError, KeyError):
        return None


# --- MCP tool arguments and chat answers -----------------------------------------------------------------


def fuzz_mcp(work: Path, n: int, seed: int = 0) -> dict:
    """Generated arguments for every MCP tool, through the official SDK's in-memory client."""
    import anyio
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st
    from mcp import Client

    from limner.agent.integrations.mcp import build_server

    tally = DoorTally("mcp")
    with _environment(work):
        inputs = make_inputs(work / "mcp-inputs")
        small = work / "small.yaml"
        small.write_text(yaml.safe_dump(SMALL_POLICY))
        server = build_server(str(work / "mcp-runs"), allow_read=[str(work)])
        text = st.one_of(st.sampled_from(TEXT_SAMPLES[:6]), st.text(max_size=40))
        value = st.one_of(text, st.integers(-2, 2**40), st.floats(), st.none(), st.booleans(), st.lists(st.floats(), max_size=5))
        image = st.one_of(st.sampled_from(sorted(inputs.values())), text)
        calls = st.one_of(
            st.tuples(st.just("generate"), st.fixed_dictionaries({"prompt": st.one_of(text, value)}, optional={
                "seed": value, "threshold": value, "max_rounds": st.one_of(st.just(1), value), "policy": st.one_of(st.just(str(small)), value),
                "model": st.one_of(st.just("tiny-random-sd"), value), "interactive": value})),
            st.tuples(st.just("edit"), st.fixed_dictionaries({"image": image, "instruction": text}, optional={"box": value, "mask": image})),
            st.tuples(st.just("verify"), st.fixed_dictionaries({"image": image, "prompt": text}, optional={"verifiers": value})),
            st.tuples(st.sampled_from(["answer", "resume", "manifest"]),
                      st.fixed_dictionaries({"run_id": st.one_of(text, value, st.sampled_from(["../..", "/", "x" * 300]))},
                                            optional={"text": value})))

        async def call(name, arguments):
            async with Client(server) as client:
                return await client.call_tool(name, arguments)

        def case(c):
            name, arguments = c
            if name == "generate":
                arguments = {"policy": str(small), **arguments}
            tally.cases += 1
            label = json.dumps([name, arguments], default=str)[:300]
            try:
                result = anyio.run(call, name, arguments)
            except Exception as exc:  # the client itself failed: the server broke the protocol
                tally.tracebacks.append(f"{label}: {type(exc).__name__}: {exc}"[:500])
                return
            message = " ".join(getattr(b, "text", "") for b in result.content)[:400]
            if not result.is_error:
                tally.succeeded += 1
            elif message.strip() == f"Error executing tool {name}":  # the SDK's word for a crash in the tool
                tally.tracebacks.append(f"{label}: {message}")
            else:
                tally.refused += 1

        import logging

        log = logging.getLogger("mcp")
        level = log.level
        log.setLevel(logging.CRITICAL)  # the SDK logs each crash with its traceback; the tally counts them
        try:
            settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                     suppress_health_check=list(HealthCheck))(fixed_seed(seed)(given(calls)(case)))()
        finally:
            log.setLevel(level)
    return tally.row()


def fuzz_chat_answers(n: int, seed: int = 0) -> dict:
    """Generated answers of a person at each stage of a chat, read offline: a valid ``Intent`` every time."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st

    from limner.agent.edits import Scene, read
    from limner.agent.planners.rules import RulesPlanner

    plan = RulesPlanner().plan("a red circle left of a blue square").model_dump()
    candidates = [{"id": "r01-c00", "score": 0.5}, {"id": "r01-c01", "score": 0.7}]
    tally = DoorTally("chat answers")
    words = st.sampled_from(["yes", "no", "accept", "pick", "r01-c01", "c01", "more", "make", "the", "circle", "green",
                             "bigger", "square", "cancel", "stop", "redo", "instead", "2", "-1", "r99-c99", "", "\n"])
    answer = st.one_of(st.text(max_size=80), st.lists(words, max_size=8).map(" ".join), st.sampled_from(ODD_STRINGS[:-1]))

    def case(c):
        stage, text = c
        tally.cases += 1
        try:
            fb = read(text, stage, Scene.of(plan, candidates))
            json.dumps(fb.model_dump(), allow_nan=False)
            tally.succeeded += 1
        except Exception as exc:
            tally.tracebacks.append(f"{stage} {text[:80]!r}: {type(exc).__name__}: {exc}"[:400])

    settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
             suppress_health_check=list(HealthCheck))(fixed_seed(seed)(given(st.tuples(st.sampled_from(["plan", "round"]), answer))(case)))()
    return tally.row()
