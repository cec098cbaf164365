"""report.html: opens from disk with no server; rendered in headless Chromium, the screenshot shows the images."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from limner.agent._run.report import render_report
from limner.agent.runner import run


pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_the_report_escapes_what_people_typed():
    html = render_report({"run_id": "x", "brief": {"prompt": "<script>alert(1)</script>"}, "candidates": [],
                          "decisions": [{"step": "decide", "action": "finish", "reason": "a < b"}]})
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "a &lt; b" in html


def test_every_run_folder_gets_a_report_with_all_candidates(tmp_path, shapes_defaults):
    r = run("a red circle left of a blue square", out=tmp_path, seed=2, policy="layout", candidates=2, max_rounds=1)
    folder = Path(r.run_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["report"]["html"] == "report.html" and manifest["report"]["contact_sheet"] == "contact.png"
    html = (folder / "report.html").read_text()
    for cand in manifest["candidates"]:
        assert f"src='{cand['path']}'" in html and (folder / cand["path"]).is_file()
    assert "src='final.png'" in html and "src='layout.png'" in html
    assert all(d["reason"].split("(")[0].strip()[:30] in html.replace("&#x27;", "'") for d in manifest["decisions"]
               if d.get("reason") and "<" not in d["reason"] and "&" not in d["reason"])


def test_the_report_renders_in_headless_chromium_with_its_images(tmp_path, shapes_defaults):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it when it can)")
    r = run("a red circle", out=tmp_path, seed=1, max_rounds=1, candidates=2)
    folder = Path(r.run_dir)
    shot = tmp_path / "shot.png"
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1200,1400", (folder / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    page = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    final = np.asarray(Image.open(folder / "final.png").convert("RGB")).astype(int)
    # the circle's colour, as the final image has it: the page shows it large (384 px wide) and in the grid
    red = final[(final[..., 0] > 150) & (final[..., 1] < 100) & (final[..., 2] < 100)]
    assert len(red) > 50
    colour = red.mean(axis=0)
    on_page = (np.abs(page - colour).sum(axis=-1) < 60).sum()
    expected = len(red) * (384 / final.shape[1]) ** 2  # the final image alone
    assert on_page > 0.8 * expected, (on_page, expected)
    # and a page whose images are missing shows none of it
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "report.html").write_text((folder / "report.html").read_text())
    shot2 = tmp_path / "shot2.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot2}", "--window-size=1200,1400", (broken / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    page2 = np.asarray(Image.open(shot2).convert("RGB")).astype(int)
    assert (np.abs(page2 - colour).sum(axis=-1) < 60).sum() < 0.05 * expected
