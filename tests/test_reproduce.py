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
