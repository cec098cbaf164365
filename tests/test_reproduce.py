"""Every candidate is reproducible from its manifest entry."""

import numpy as np
from PIL import Image

from limner.agent import run
from limner.agent.reproduce import regenerate
from helpers import manifest, policy_file


def test_candidates_regenerate_bit_identically_from_the_manifest(tmp_path):
    result = run("a blue square", seed=9, out=tmp_path, policy=policy_file(tmp_path, max_rounds=2))
    m = manifest(result)
    for entry in (m["candidates"][1], m["candidates"][-1]):
        original = np.asarray(Image.open(tmp_path / result.run_id / entry["path"]).convert("RGB"))
        again = np.asarray(regenerate(entry))
        assert np.array_equal(original, again), entry["id"]


def test_a_masked_edit_changes_nothing_outside_the_mask_in_any_round_and_every_candidate_reproduces(
        tmp_path, shapes_defaults):
    """Later rounds of an edit of a region (repairs, repaints) stay inside it: outside the mask every candidate
    is the person's image, and each regenerates from its manifest entry."""
    source = Image.new("RGB", (64, 64), (235, 235, 235))
    source.paste((30, 30, 200), (40, 40, 60, 60))  # a blue square the edit must keep
    source.save(tmp_path / "in.png")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (2, 2, 34, 34))
    mask.save(tmp_path / "mask.png")
    result = run("a red circle and a green triangle", image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"),
                 seed=4, out=tmp_path / "runs", policy="edit", threshold=1.0, max_rounds=3, candidates=2)
    m = manifest(result)
    assert {c["action"] for c in m["candidates"]} - {"input"}, "the edit never went past its first round"
    keep = np.asarray(mask.point(lambda v: 0 if v else 255)).astype(bool)
    keep[:40, :40] = False  # the feathered edge of the mask may blend
    run_dir = tmp_path / "runs" / result.run_id
    for entry in m["candidates"]:
        saved = np.asarray(Image.open(run_dir / entry["path"]).convert("RGB"))
        assert np.abs(saved[keep].astype(int) - np.asarray(source)[keep]).max() <= 2, entry["id"]
    for entry in (m["candidates"][0], m["candidates"][-1]):
        again = np.asarray(regenerate(entry, run_dir))
        assert np.array_equal(np.asarray(Image.open(run_dir / entry["path"]).convert("RGB")), again), entry["id"]
