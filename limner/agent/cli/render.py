"""``limner show``: a run's plan, candidates and decisions as terminal tables."""

from __future__ import annotations

from pathlib import Path

from rich import box as boxes
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def render(manifest: dict, run_dir: Path, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    plan = manifest.get("plan") or {}
    console.print(f"[bold]run[/] {manifest['run_id']}  status [bold]{manifest['status']}[/]  "
                  f"reason: {escape(str(manifest.get('stop_reason')))}")
    console.print(f"prompt: {escape(manifest['brief']['prompt'])}")
    model = manifest["model"]
    console.print(f"model: {escape(str(model['alias']))} ({escape(str(model['source']))}), {model['steps']} steps, guidance {model['guidance']}")
    if plan:
        console.print(f"[bold]plan v{plan['version']}[/] by {escape(plan['planner'])}: {escape(plan['rewritten_prompt'])}")
        for obj in plan.get("objects", []):
            console.print(escape(f"  object: {obj['count']} x {obj.get('color') or ''} {obj['name']}".replace("  ", " ")))
        for rel in plan.get("relations", []):
            objs = plan["objects"]
            console.print(escape(f"  relation: {objs[rel['subject']]['name']} {rel['relation']} {objs[rel['object']]['name']}"))
        for check in plan.get("checks", []):
            console.print(escape(f"  check {check['id']}: {check['question']}"), style="dim")
        layout = plan.get("layout")
        if layout:
            console.print(f"  layout (base ratio {layout['base_ratio']}"
                          + (f", background '{escape(layout['background'])}'" if layout.get("background") else "") + "):")
            for region in layout["regions"]:
                box = ", ".join(f"{v:.2f}" for v in region["box"])
                console.print(escape(f"    region {region['phrase']}: box [{box}]"))
    verifiers = [v["name"] for v in manifest.get("verifiers", [])]
    table = Table(box=boxes.SIMPLE_HEAD, caption=f"* best; images in {run_dir / 'candidates'}", caption_justify="left")
    for name in ("id", "seed", "strategy", "plan"):
        table.add_column(name, no_wrap=True)
    for name in ("score", *verifiers):
        table.add_column(name, justify="right", overflow="fold")
    best = (manifest.get("best") or {}).get("id")
    for c in manifest.get("candidates", []):
        per = [f"{c['scores'][v]['score']:.3f}" if v in c.get("scores", {}) else "-" for v in verifiers]
        score = f"{c['score']:.3f}" if "score" in c else "-"
        table.add_row(c["id"] + ("*" if c["id"] == best else ""), str(c.get("seed")), c["strategy"],
                      str(c["plan_version"]), score, *per)
    console.print(table)
    rounds = manifest.get("rounds") or []
    if rounds:
        rt = Table("round", "strategy", "what it did", "NFE", "inner scores", "best so far", box=boxes.SIMPLE_HEAD)
        for r in rounds:
            params = {k: v for k, v in r["params"].items() if k not in {"tree", "trace", "why"}}
            what = ", ".join(f"{k}={v}" for k, v in params.items()) + ("; regional" if r.get("regional") else "") \
                + ("; grounded" if r.get("grounded") else "")
            nfe = str(r["nfe_charged"]) + (f" ({r['nfe']} fwd)" if r["nfe_charged"] != r["nfe"] else "")
            best_so_far = "-" if r["best_score_so_far"] is None else f"{r['best_score_so_far']:.3f} ({r['best_id_so_far']})"
            rt.add_row(str(r["round"]), r["strategy"], what[:70], nfe, str(r["verifier_calls"]), best_so_far)
        console.print(rt)
    for d in manifest.get("decisions", []):
        console.print(f"[cyan]{d['step']}[/] {d['action']}: {escape(str(d['reason']))}")
    for t in manifest.get("chat", []):
        console.print(f"[magenta]person[/] at the {t['stage']}: " + escape(f"{t['answer']!r} -> {t['read_as'].get('action')} "
                                                                           f"(read by {t['read_by']})"))
    spent = manifest["budgets"]["spent"]
    limits = manifest["budgets"]["limits"]
    console.print(f"spent: {spent['rounds']}/{limits['rounds']} rounds, {spent['nfe']}/{limits['nfe']} NFE, "
                  f"{spent['llm_calls']}/{limits['llm_calls']} LLM calls, {spent['seconds']:.1f}/{limits['seconds']:g}s")
    if manifest.get("final"):
        console.print(f"final: {run_dir / manifest['final']}")
    for name, path in (manifest.get("report") or {}).items():
        console.print(f"{name}: {run_dir / path}")


def _answerer_note(describe: dict) -> str:
    if describe.get("answerer") == "parser":
        return " (exact parser: an oracle in the shapes world)"
    found = describe.get("answerer_options") or {}
    found = found.get("model") and found or {}
    if not found:
        return ""
    return f" ({found['model']}, threshold {found['threshold']:g}, colour by {found['color']})"


def render_verification(result: dict, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    table = Table("verifier", "score", "raw", "weights / answerer")
    for name, r in result["verifiers"].items():
        raw = r["raw"] if not isinstance(r["raw"], float) else f"{r['raw']:.4f}"
        d = r["describe"]
        used = d.get("model") or (f"answerer: {d['answerer']}" + _answerer_note(d) if d.get("answerer") else "")
        table.add_row(name, f"{r['score']:.3f}", str(raw), str(used))
    console.print(f"prompt: {escape(result['prompt'])}  ({result.get('world', 'real')} world)")
    console.print(table)
    for notice in result.get("notices", []):
        console.print(f"note: {escape(notice)}")
    questions = result["verifiers"].get("questions", {}).get("detail", {}).get("questions", [])
    if questions:
        qt = Table("id", "question", "answer", "passed", "box")
        for q in questions:
            answer = "-" if q["answer"] is None else f"{q['answer']:.2f}"
            passed = "yes" if q["passed"] else ("no (premise failed)" if q["skipped_by_parent"] else "no")
            qt.add_row(escape(q["id"]), escape(q["question"]), answer, passed, str(q["box"] or ""))
        console.print(qt)
