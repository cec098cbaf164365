"""The studio in a real browser (issue 35): Debian's chromium driven by Playwright (headless, a fresh profile,
background networking off) against a live ``limner serve`` on loopback with the embedded model.

brief -> plan shown -> one box moved -> approved -> candidates with check marks -> a brush mask and "make it
blue" -> the edit lands inside the mask, the rest is kept -> undo restores the previous image -> a running
round cancelled. With ``LIMNER_TEST_STUDIO_SHOTS=docs/studio`` each step's screenshot is written there (the docs'
walk-through); otherwise into the test's temporary folder.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from service_server import LiveService

pytestmark = pytest.mark.slow  # a server and a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    pytest.importorskip("playwright", reason="the studio tests need Playwright (pip install '.[test]')")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("studio")
    live = LiveService(root / "runs", root / "home").start()
    profile = root / "profile"  # a fresh profile, nothing of the user's
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, viewport={"width": 1280, "height": 1000},
            args=["--disable-background-networking", "--no-first-run", "--disable-sync",
                  "--disable-component-update", "--disable-default-apps"])
        errors: list[str] = []
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(90_000)
        yield live, page, errors, Path(os.environ.get("LIMNER_TEST_STUDIO_SHOTS") or root / "shots")
        browser.close()
    live.stop()


def _shot(page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def _ready(page, turns: int | None = None) -> None:
    """The session waits for the person again (after ``turns`` turns of history, when given)."""
    if turns is not None:
        page.wait_for_function(f"document.querySelectorAll('#history li').length >= {turns}")
    page.wait_for_function("!document.querySelector('#send-btn').disabled")


def _png(client: httpx.Client, url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(client.get(url).content)).convert("RGB")).astype(int)


def test_a_session_in_the_studio_plan_layout_brush_edit_undo(studio):
    live, page, errors, shots = studio
    api = live.client()
    page.goto(f"{live.base}/")
    assert page.title() == "Limner studio"
    page.fill("#brief", "a red circle left of a blue square")
    page.fill("#per-round", "2")
    page.keyboard.press("Enter")  # the brief's form submits from the keyboard
    page.wait_for_selector("#plan-panel:not([hidden]) #layout .box")
    assert page.locator("#entities li").all_inner_texts() == ["0: red circle", "1: blue square"]
    assert "Is the circle red?" in page.locator("#checks li").all_inner_texts()
    _shot(page, shots, "1-plan")

    square = page.locator("#layout .box").nth(1)
    square.focus()  # every box is reachable by keyboard: arrows move it
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    _shot(page, shots, "2-layout-moved")
    page.click("#approve-btn")
    _ready(page)
    run = page.evaluate("S.run")
    view = api.get(f"/v1/runs/{run}").json()
    moved = next(r for r in view["plan"]["layout"]["regions"] if r["object"] == 1)["box"]
    assert moved[1] == pytest.approx(0.29 - 0.06, abs=1e-3) and view["plan"]["version"] == 2
    marks = page.locator(".cand .ok").count()
    assert marks > 0 and page.locator(".cand img").first.get_attribute("alt").startswith(
        "a red circle left of a blue square: candidate")
    _shot(page, shots, "3-candidates")

    head = view["question"]["best_id"]
    page.locator(f'.cand[data-id="{head}"] button', has_text="Paint").click()
    page.wait_for_selector("#paint:not([hidden])")
    canvas = page.locator("#paint-canvas").bounding_box()
    page.mouse.move(canvas["x"] + canvas["width"] * 0.08, canvas["y"] + canvas["height"] * 0.3)
    page.mouse.down()  # cover the circle (its layout box: 0.04-0.46 x 0.29-0.71)
    for row in range(6):
        y = 0.3 + row * 0.08
        for x in ((0.08, 0.42) if row % 2 == 0 else (0.42, 0.08)):
            page.mouse.move(canvas["x"] + canvas["width"] * x, canvas["y"] + canvas["height"] * y, steps=6)
    page.mouse.up()
    _shot(page, shots, "4-brush-mask")
    page.fill("#turn", "make it blue")
    page.click("#send-btn")
    _ready(page, 1)
    _shot(page, shots, "5-edited")

    view = api.get(f"/v1/runs/{run}").json()
    turn = view["question"]["history"][0]
    assert (turn["kind"], turn["from"]) == ("recolor", head) and turn["made"]
    mask = np.asarray(Image.open(live.out / run / "masks" / "turn-1.png").convert("L")) > 127
    before = _png(api, f"/v1/runs/{run}/files/candidates/{head}.png")
    for cid in turn["made"]:  # the edit landed inside the mask, the rest is kept
        cand = next(c for c in view["candidates"] if c["id"] == cid)
        assert cand["edit"]["within"] == "masks/turn-1.png" and cand["parent"] == head
        assert cand["scores"]["preservation"]["detail"]["preservation"]["passed"]
        after = _png(api, cand["url"])
        changed = np.abs(after - before).max(axis=2) > 8
        grown = np.zeros_like(mask)
        ys, xs = np.nonzero(mask)
        grown[max(0, ys.min() - 3):ys.max() + 4, max(0, xs.min() - 3):xs.max() + 4] = True
        assert changed[mask].mean() > 0.2 and not changed[~grown].any()
    shown = page.locator(f'.cand[data-id="{turn["head"]}"] li').all_inner_texts()  # its checks, with marks
    assert any(t[0] in "✓✗" and t.endswith("Is the circle blue?") for t in shown)
    assert any(t.endswith("is everything outside the edited region kept as it was?") for t in shown)

    page.click("#undo-btn")
    _ready(page, 2)
    view = api.get(f"/v1/runs/{run}").json()
    assert view["question"]["best_id"] == head and view["question"]["asks"] == f"undone: back to {head}"
    assert page.locator(f'.cand.head[data-id="{head}"]').count() == 1
    assert page.locator("#history li.undone").count() == 1
    _shot(page, shots, "6-undone")
    assert not errors, errors


def test_cancel_in_the_studio_stops_a_running_round(studio):
    live, page, errors, shots = studio
    page.goto(f"{live.base}/")
    page.fill("#brief", "two yellow triangles above a green square")
    page.fill("#per-round", "8")
    page.click("#plan-btn")
    page.wait_for_selector("#plan-panel:not([hidden])")
    page.click("#approve-btn")
    page.wait_for_function("document.querySelector('#progress-text').textContent.startsWith('round 1: step')")
    page.click("#cancel-btn")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('cancelled')")
    run = page.evaluate("S.run")
    view = live.client().get(f"/v1/runs/{run}").json()
    assert view["status"] == "cancelled" and "denoising step" in view["stop_reason"]
    _shot(page, shots, "7-cancelled")
    page.click("#refresh-sessions")  # earlier sessions are listed and open again
    page.locator("#sessions button", has_text="a red circle left of a blue square").first.click()
    page.wait_for_selector(".cand")
    assert not errors, errors


def test_a_deleted_box_leaves_the_plan_and_go_here_branches_from_an_undone_edit(studio):
    """The layout's × takes an object out of the plan before anything is generated; after an edit and an undo,
    the history strip's "go here" on the undone turn moves the session back to that turn's image."""
    live, page, errors, shots = studio
    api = live.client()
    page.goto(f"{live.base}/")
    page.fill("#brief", "a green triangle left of a blue square")
    page.fill("#per-round", "2")
    page.click("#plan-btn")
    page.wait_for_selector("#plan-panel:not([hidden]) #layout .box")
    assert page.locator("#layout .box").count() == 2
    page.locator('#layout .box[data-object="1"] .del').click()
    assert page.locator("#layout .box").count() == 1
    page.click("#approve-btn")
    _ready(page)
    run = page.evaluate("S.run")
    view = api.get(f"/v1/runs/{run}").json()
    assert [o["name"] for o in view["plan"]["objects"]] == ["triangle"] and not view["plan"]["relations"]
    first = view["question"]["best_id"]

    page.fill("#turn", "make the triangle red")
    page.click("#send-btn")
    _ready(page, 1)
    edited = api.get(f"/v1/runs/{run}").json()["question"]["history"][0]["head"]
    page.click("#undo-btn")
    _ready(page, 2)
    assert api.get(f"/v1/runs/{run}").json()["question"]["best_id"] == first
    page.locator("#history li.undone button", has_text="go here").click()
    _ready(page, 3)
    view = api.get(f"/v1/runs/{run}").json()
    assert view["question"]["best_id"] == edited != first
    assert page.locator(f'.cand.head[data-id="{edited}"]').count() == 1
    assert not errors, errors


def test_the_studio_is_served_without_the_key_and_its_api_calls_need_it(tmp_path):
    live = LiveService(tmp_path / "runs", tmp_path / "home", "--api-key", "s3cret").start()
    try:
        c = live.client()
        assert c.get("/").status_code == 200 and "Limner studio" in c.get("/").text
        assert c.get("/studio/studio.js").headers["content-type"].startswith("text/javascript")
        assert c.get("/v1/runs").status_code == 401 and c.get("/studio/nope.js").status_code == 401
        keyed = live.client(headers={"Authorization": "Bearer s3cret"})
        for name in ("nope.js", "..%2fapp.py", "index.html"):  # only its two assets, by name
            assert keyed.get(f"/studio/{name}").status_code == 404
        assert "cdn" not in c.get("/").text.lower() and "http" not in c.get("/studio/studio.js").text.replace(
            "http://www.w3.org/2000/svg", "")  # nothing from the network: the studio works offline
    finally:
        live.stop()
