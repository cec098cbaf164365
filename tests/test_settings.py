"""One settings object owns every LIMNER_* environment variable."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_but_the_settings_reads_a_limner_variable():
    readers = []
    for path in list((ROOT / "limner").rglob("*.py")):
        text = path.read_text()
        if re.search(r"(os\.environ\S*|getenv)\(?\[?[\"']LIMNER_", text) and path.name != "settings.py":
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_every_documented_limner_variable_is_a_setting(monkeypatch, tmp_path):
    from limner.tools.settings import Settings

    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    # LIMNER_TEST_* ask the test suite for something optional (conftest lets them through): not settings
    names = {n for n in re.findall(r"LIMNER_[A-Z_]+", "".join(d.read_text() for d in docs)) if not n.startswith("LIMNER_TEST_")}
    fields = {f"LIMNER_{name.upper()}" for name in Settings.model_fields}
    assert names - fields == set(), names - fields
    monkeypatch.setenv("LIMNER_HOME", str(tmp_path))
    monkeypatch.setenv("LIMNER_CLIP_MODEL", "some/clip")
    monkeypatch.setenv("LIMNER_MODEL", "sdxl-turbo")
    from limner.tools._home import limner_home
    from limner.tools.generators import default_model
    from limner.tools.verifiers.requirements import default_clip_model

    assert limner_home() == tmp_path and default_model() == "sdxl-turbo" and default_clip_model("real") == "some/clip"


def test_every_test_runs_with_an_empty_home_and_none_of_the_users_limner_settings():
    import pwd

    assert os.environ["HOME"] != pwd.getpwuid(os.getuid()).pw_dir
    assert Path(os.environ["HOME"]).is_dir()
    leaked = {v for v in os.environ if v.startswith("LIMNER_") and not v.startswith("LIMNER_TEST_")}
    assert leaked <= {"LIMNER_HOME", "LIMNER_MODEL", "LIMNER_CLIP_MODEL"}, leaked  # the conftest's own
