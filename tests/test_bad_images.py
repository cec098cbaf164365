"""Image and mask inputs as people and scripts give them: generated corrupt, truncated, empty, huge and odd
files end in a result or one line (``UsageError``, exit 2), never a traceback, and an edit writes nothing."""

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from typer.testing import CliRunner

from limner.agent.cli import app
from limner.agent.errors import UsageError


def _encoded(fmt: str, mode: str = "RGB", size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "red" if mode in ("RGB", "RGBA", "P") else 200).save(buf, format=fmt)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_claiming(w: int, h: int) -> bytes:
    """A PNG whose header claims ``w`` x ``h`` (a decompression bomb when large), with a little data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + _chunk(b"IEND", b""))


GOOD = {"png": _encoded("PNG"), "jpeg": _encoded("JPEG"), "rgba": _encoded("PNG", "RGBA"),
        "i16": _encoded("PNG", "I;16"), "bw": _encoded("PNG", "1"), "gif": _encoded("GIF", "P"),
        "webp": _encoded("WEBP")}


@st.composite
def image_files(draw) -> bytes:
    base = draw(st.sampled_from(sorted(GOOD)))
    data = bytearray(GOOD[base])
    how = draw(st.sampled_from(["truncate", "flip", "random", "claim", "as is"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    elif how == "random":
        data = bytearray(draw(st.binary(max_size=300)))
    elif how == "claim":
        data = bytearray(_png_claiming(draw(st.sampled_from([0, 1, 9000, 30000, 2**31 - 1])),
                                       draw(st.sampled_from([1, 8, 30000, 2**31 - 1]))))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=image_files())
def test_any_image_file_is_scored_or_refused_in_one_line(tmp_path, data):
    from limner.agent.verify import verify_image

    path = tmp_path / "input.png"
    path.write_bytes(data)
    try:
        result = verify_image(str(path), "a red circle", ["clipscore"])
    except UsageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        assert 0.0 <= result["verifiers"]["clipscore"]["score"] <= 1.0


@pytest.mark.parametrize("name, data, message", [
    ("bomb.png", _png_claiming(30000, 30000), "cannot read image"),
    ("big.png", _png_claiming(9000, 9000), "at most 67 megapixels"),
    ("empty.png", b"", "cannot read image"),
    ("text.png", b"hello", "cannot read image"),
    ("trunc.png", GOOD["png"][:40], "cannot read image"),
])
def test_limner_edit_on_a_bad_image_is_one_line_exit_2_and_writes_nothing(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["edit", str(path), "a red circle", "--box", "0.1,0.1,0.5,0.5",
                                      "--out", str(out)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_a_bad_mask_is_one_line(tmp_path):
    image, mask = tmp_path / "image.png", tmp_path / "mask.png"
    Image.new("RGB", (64, 64), "white").save(image)
    mask.write_bytes(_png_claiming(30000, 30000))
    result = CliRunner().invoke(app, ["edit", str(image), "a red circle", "--mask", str(mask),
                                      "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "cannot read mask" in result.output, result.output
    assert not (tmp_path / "runs").exists()
