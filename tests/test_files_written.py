"""Files Limner writes: whole or absent, and readable as the user's umask says."""

import os
import stat

from limner.agent._run.store import atomic_write_bytes, atomic_write_json


def test_atomic_writes_get_the_mode_the_umask_gives_not_mkstemp_s_0600(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_bytes(tmp_path / "final.png", b"png")
    atomic_write_json(tmp_path / "manifest.json", {"a": 1})
    for name in ("final.png", "manifest.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.png", "manifest.json"]  # no temporary left
