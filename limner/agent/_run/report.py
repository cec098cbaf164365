"""Files for people to look at: ``contact.png`` (every candidate with its id and score) and ``report.html``.

``report.html`` opens from disk with no server: the final image, every candidate with its scores in a grid,
the plan (with ``layout.png`` when there is a layout), the chat, and the decision trail. Images are linked
by relative paths inside the run folder, so the folder can be moved or zipped as it is.
"""

from __future__ import annotations

import html
import json

from limner.agent._run.checks import check_tally

THUMB = 128  # contact sheet cell size in pixels
PER_ROW = 8


def write_contact_sheet(store, candidates: list[dict], best_id: str | None = None) -> str | None:
    """``contact.png``: every candidate so far (read from its PNG), labelled with its id and score; the best
    one framed."""
    from PIL import Image, ImageDraw

    from limner.agent._run.store import atomic_write_bytes
    from limner.tools.images import png_bytes

    if not candidates:
        return None
    cols = min(PER_ROW, len(candidates))
    rows = (len(candidates) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * THUMB, rows * (THUMB + 16)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for k, cand in enumerate(candidates):
        x, y = (k % cols) * THUMB, (k // cols) * (THUMB + 16)
        with Image.open(store.dir / cand["path"]) as f:
            im = f.convert("RGB")
        sheet.paste(im.resize((THUMB - 4, THUMB - 4), Image.NEAREST), (x + 2, y + 2))
        if cand["id"] == best_id:
            draw.rectangle([x, y, x + THUMB - 1, y + THUMB - 1], outline=(255, 215, 0), width=2)
        score = cand.get("score")
        label = f"{cand['id']} {score:.3f}" if score is not None else cand["id"]
        draw.text((x + 3, y + THUMB + 2), label, fill=(235, 235, 235))
    atomic_write_bytes(store.dir / "contact.png", png_bytes(sheet))
    return "contact.png"


def _e(value) -> str:
    return html.escape(str(value))


def _plan_html(plan: dict | None) -> str:
    if not plan:
        return "<p>no plan</p>"
    checks = "".join(f"<li><code>{_e(c['id'])}</code> {_e(c['question'])}</li>" for c in plan.get("checks", []))
    regions = "".join(f"<li>{_e(r['phrase'])}: [{', '.join(f'{v:.2f}' for v in r['box'])}]</li>"
                      for r in (plan.get("layout") or {}).get("regions", []))
    from limner.agent.plan import describe_parts

    parts = describe_parts(plan)
    graph = "".join(f"<li>{label} {_e(line)}</li>" for label, key in (
        ("entity", "entities"), ("relation", "relations"), ("exclude", "exclusions"), ("global", "global"))
        for line in parts[key])
    unplanned = "".join(f"<li>{_e(line)}</li>" for line in parts["unplanned"])
    return (f"<p>version {plan['version']} by {_e(plan['planner'])}</p>"
            + (f"<h3>scene</h3><ul>{graph}</ul>" if graph else "")
            + (f"<h3>unplanned: no check tests these words</h3><ul class=fail>{unplanned}</ul>" if unplanned else "")
            + f"<p class=prompt>{_e(plan['rewritten_prompt'])}</p>"
            + (f"<p>negative: {_e(plan['negative_prompt'])}</p>" if plan.get("negative_prompt") else "")
            + f"<h3>checks</h3><ul>{checks}</ul>" + (f"<h3>layout</h3><ul>{regions}</ul>" if regions else ""))


def _candidate_html(cand: dict, best_id: str | None) -> str:
    rows = "".join(f"<tr><td>{_e(name)}</td><td>{s['score']:.3f}</td></tr>" for name, s in cand.get("scores", {}).items())
    failed = [q["question"] for s in cand.get("scores", {}).values()
              for q in (s.get("detail") or {}).get("questions", []) if not q.get("passed")]
    fails = "".join(f"<li>{_e(q)}</li>" for q in failed)
    mark = " best" if cand["id"] == best_id else ""
    return (f"<figure class='cand{mark}'><img src='{_e(cand['path'])}' alt='{_e(cand['id'])}'>"
            f"<figcaption><b>{_e(cand['id'])}</b> round {cand.get('round')} · {_e(cand.get('action', ''))} · "
            f"<b>{cand.get('score', 0):.3f}</b><table>{rows}</table>"
            + (f"<ul class=fail>{fails}</ul>" if fails else "") + "</figcaption></figure>")


STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}
h1{font-size:20px} .prompt{font-size:16px;font-style:italic}
.top{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.top img{width:384px;image-rendering:pixelated;border:1px solid #ccc}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.cand{margin:0;width:180px;background:#fff;border:1px solid #ddd;padding:6px}
.cand img{width:168px;height:168px;image-rendering:pixelated}
.cand.best{border:3px solid #e0a800} table{font-size:12px} .fail{color:#a00;font-size:12px;padding-left:16px}
td,th{padding:2px 8px;text-align:left;vertical-align:top} .trail td{border-top:1px solid #eee}
"""


def _made_how(log: dict) -> str:
    """How a round's candidates were made: from the plan's layout (grounded or regional), the prompt, or by
    editing a candidate."""
    params = log.get("params") or {}
    if log.get("action") == "repair":
        return (f"inpainted '{params.get('phrase')}' in box {params.get('box')} of {params.get('parent')}"
                + (", grounded on that box" if params.get("grounded") else ""))
    if log.get("action") == "variation":
        return f"variation of {params.get('parent')}"
    if log.get("layout"):
        return log["layout"]
    return "grounded on the plan's boxes" if log.get("grounded") else (
        "regional attention on the plan's layout" if log.get("regional") else "from the prompt")


def render_report(state: dict) -> str:
    """The page for a run's state (as stored in its checkpoint or manifest)."""
    brief, spent = state.get("brief", {}), state.get("spent", {})
    best_id = state.get("best_id")
    final = state.get("final") or next((c["path"] for c in state.get("candidates", []) if c["id"] == best_id), None)
    layout = (state.get("report") or {}).get("layout")
    tally = check_tally(next((c for c in state.get("candidates", []) if c["id"] == best_id), None))
    head = (f"<h1>Limner run {_e(state.get('run_id', ''))}</h1><p class=prompt>{_e(brief.get('prompt', ''))}</p>"
            f"<p>status <b>{_e(state.get('status', 'running'))}</b>"
            + (f" · best {_e(best_id)} score <b>{state['best_score']:.3f}</b>" if best_id else "")
            + (f" · checks <b>{tally['passed']} of {tally['of']}</b> pass" if tally["of"] else "")
            + f" · {spent.get('rounds', 0)} rounds, {spent.get('nfe', 0)} NFE, {spent.get('llm_calls', 0)} LLM calls,"
            f" {spent.get('seconds', 0):.1f}s</p>"
            + (f"<p>stop: {_e(state['stop_reason'])}</p>" if state.get("stop_reason") else ""))
    images = "".join(f"<figure><img id={name} src='{_e(path)}' alt='{name}'><figcaption>{name}</figcaption></figure>"
                     for name, path in (("final", final), ("layout", layout)) if path)
    grid = "".join(_candidate_html(c, best_id) for c in state.get("candidates", []))
    chat = "".join(f"<tr><td>{_e(t['stage'])}</td><td>{_e(t['answer'])}</td><td><code>{_e(json.dumps(t['read_as']))}"
                   f"</code></td></tr>" for t in state.get("chat", []))
    rounds = "".join(f"<tr><td>{_e(r.get('round'))}</td><td>{_e(r.get('action'))}</td><td>{_e(r.get('strategy'))}</td>"
                     f"<td>{_e(r.get('nfe'))}</td><td>{_e(_made_how(r))}</td></tr>"
                     for r in state.get("rounds_log") or state.get("rounds") or [])
    trail = "".join(f"<tr><td>{_e(d.get('step'))}</td><td>{_e(d.get('action'))}</td><td>{_e(d.get('reason'))}</td></tr>"
                    for d in state.get("decisions", []))
    return ("<!doctype html><html><head><meta charset=utf-8><title>Limner "
            f"{_e(state.get('run_id', ''))}</title><style>{STYLE}</style></head><body>{head}"
            f"<div class=top>{images}<div><h2>plan</h2>{_plan_html(state.get('plan'))}</div></div>"
            f"<h2>candidates</h2><div class=grid>{grid}</div>"
            + (f"<h2>rounds</h2><table class=trail><tr><th>round</th><th>action</th><th>strategy</th><th>NFE</th>"
               f"<th>made</th></tr>{rounds}</table>" if rounds else "")
            + (f"<h2>conversation</h2><table>{chat}</table>" if chat else "")
            + f"<h2>decisions</h2><table class=trail>{trail}</table></body></html>")


def write_report(store, state: dict) -> str:
    from limner.agent._run.store import atomic_write_bytes

    atomic_write_bytes(store.dir / "report.html", render_report(state).encode("utf-8"))
    return "report.html"
