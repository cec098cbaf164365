"""The Ray runner's pieces that need no cluster: folders sent back, leftovers, what the workers are given."""

import io
import tarfile

import pytest

from limner.agent.batch_ray import RayOptions, _pool, clear_leftovers, pack, unpack, worker_env
from limner.agent.errors import UsageError


def test_a_run_folder_sent_back_replaces_the_driver_s_in_one_piece(tmp_path):
    src = tmp_path / "worker" / "b1-00000"
    (src / "candidates").mkdir(parents=True)
    (src / "manifest.json").write_text("{}")
    (src / "candidates" / "r01-c00.png").write_bytes(b"png")
    target = tmp_path / "runs" / "b1-00000"
    (target / "candidates").mkdir(parents=True)
    (target / "stale.json").write_text("old")  # the driver's unfinished copy
    unpack(pack(src), target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "candidates", "candidates/r01-c00.png", "manifest.json"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["b1-00000"]  # nothing half-unpacked left


def test_a_tar_that_escapes_its_folder_is_refused_and_leaves_nothing(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    target = tmp_path / "runs" / "b1-00000"
    target.parent.mkdir()
    with pytest.raises(tarfile.TarError):
        unpack(buf.getvalue(), target)
    assert not (tmp_path / "escaped.txt").exists() and list(target.parent.iterdir()) == []


def test_leftovers_of_a_killed_driver_are_cleared_and_run_folders_kept(tmp_path):
    for name in (".incoming-b1-00000-abc", ".old-b1-00001-def", "b1-00002"):
        (tmp_path / name).mkdir()
    clear_leftovers(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["b1-00002"]


def test_workers_get_limner_s_and_the_hub_s_settings_but_no_secret(monkeypatch):
    monkeypatch.setenv("LIMNER_MODEL", "shapes-tiny")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LIMNER_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # Ray assigns GPUs per worker itself
    env = worker_env()
    assert env["LIMNER_MODEL"] == "shapes-tiny" and env["HF_HUB_OFFLINE"] == "1"
    assert not {"LIMNER_LLM_API_KEY", "HF_TOKEN", "CUDA_VISIBLE_DEVICES"} & set(env)


class _Cluster:
    def __init__(self, gpus):
        self.gpus = gpus

    def cluster_resources(self):
        return {"CPU": 2.0, **({"GPU": self.gpus} if self.gpus else {})}


def test_the_pool_is_one_worker_per_gpu_unless_told_and_says_what_is_missing():
    assert _pool(_Cluster(4), RayOptions()) == (4, 1.0)
    assert _pool(_Cluster(4), RayOptions(gpus_per_worker=0.5)) == (8, 0.5)
    assert _pool(_Cluster(0), RayOptions(workers=2)) == (2, 0.0)
    with pytest.raises(UsageError, match="no GPUs: give --workers N"):
        _pool(_Cluster(0), RayOptions())
    with pytest.raises(UsageError, match="at least 1"):
        _pool(_Cluster(0), RayOptions(workers=0))


def test_a_job_that_raises_is_an_error_row_with_its_reason(tmp_path, monkeypatch):
    from limner.agent import batch, runner

    def boom(**_):
        raise ValueError("the pipeline fell over\nsecond line")

    monkeypatch.setattr(runner, "run", boom)
    job = batch.Job(0, 0, "b1-00000", {"prompt": "a red circle"}, batch.Item(1, {"prompt": "a red circle"}))
    row = batch.run_job(job, tmp_path, settings=None)
    assert row["status"] == "error" and row["reason"] == "ValueError: the pipeline fell over" and row["line"] == 1
