"""The shipped shapes-world models: real diffusers/transformers folders that load, generate and verify."""

import json
import subprocess
import sys

import numpy as np
import pytest

from limner.tools.shapes.weights import HERE


pytestmark = pytest.mark.slow  # end to end: diffusion, subprocesses or servers


def test_shipped_weights_are_small_and_complete():
    total = sum(p.stat().st_size for p in HERE.rglob("*.safetensors") if "stage" not in str(p) and "checkpoint" not in str(p))
    assert total <= 32e6  # shapes-tiny with its gated layers ~27 MB, shapes-clip ~2 MB
    for name in ("shapes-tiny", "shapes-clip"):
        assert (HERE / name / "MODEL_CARD.md").is_file()
        assert (HERE / name / "train_info.json").is_file()


def test_shapes_tiny_is_a_gligen_pipeline_folder():
    from diffusers import DiffusionPipeline, StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(HERE / "shapes-tiny")
    assert type(pipe).__name__ == "StableDiffusionGLIGENPipeline" and pipe.unet.config.attention_type == "gated"
    assert type(pipe.unet).__name__ == "UNet2DConditionModel" and type(pipe.vae).__name__ == "AutoencoderKL"
    plain = StableDiffusionPipeline.from_pipe(pipe)  # the same weights serve the other SD pipelines
    img2img = StableDiffusionImg2ImgPipeline.from_pipe(pipe)
    assert plain.unet is pipe.unet is img2img.unet


def test_shapes_tiny_draws_what_the_parser_reads():
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator
    from limner.tools.shapes.parser import parse

    gen = DiffusersGenerator(resolve_model("shapes-tiny"), device="cpu")
    result = gen.generate("a photo of a red circle", list(range(8)))
    found = [parse(im) for im in result.images]
    assert sum(len(objs) >= 1 for objs in found) >= 6
    assert sum(any(o["color"] == "red" for o in objs) for objs in found) >= 5


def test_shapes_clip_prefers_the_true_caption():
    from PIL import Image

    from limner.tools.shapes.captions import caption
    from limner.tools.shapes.world import perturb
    from limner.tools.shapes.world import random_scene, render
    from limner.tools.verifiers import make_verifier

    verifier = make_verifier("shapes-clip")
    rng = np.random.default_rng(99)
    wins = 0
    for _ in range(40):
        image, truth = render(random_scene(rng))
        im = Image.fromarray(image)
        true, wrong = verifier.score([im, im], [caption(truth, rng), caption(perturb(truth, rng), rng)])
        wins += true.raw > wrong.raw
        assert 0.0 <= true.score <= 1.0
    assert wins >= 28


def test_default_run_uses_shapes_tiny_and_its_image_parses(tmp_path, shapes_defaults):
    from PIL import Image

    from limner.agent import run
    from limner.tools.shapes.parser import parse

    result = run("two red circles above a blue square", seed=1, out=tmp_path, max_rounds=1, candidates=2)
    manifest = json.loads(open(result.manifest_path).read())
    assert manifest["model"]["alias"] == "shapes-tiny"
    assert manifest["verifiers"][0]["model"] == "builtin:shapes-clip"
    questions = manifest["verifiers"][1]  # the default policy's checks: the learned detector answers them
    assert (questions["name"], questions["answerer"]) == ("questions", "detector") and "oracle" not in questions
    assert questions["answerer_options"]["model"] == "builtin:shapes-owl"
    assert parse(Image.open(result.final_path))


def test_bench_shapes_cli_generates_scores_and_rescores_a_geneval_folder(tmp_path):
    out, images = tmp_path / "r.json", tmp_path / "imgs"
    cmd = [sys.executable, "-m", "limner.agent.cli", "bench", "shapes", "--per-tag", "1", "--samples", "2",
           "--results", str(out), "--save-images", str(images), "--steps", "8"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = json.loads(out.read_text())
    assert set(first["tags"]) == {"single_object", "two_object", "counting", "colors", "position", "color_attr"}
    assert first["images"] == 12 and 0.0 <= first["overall"] <= 1.0
    assert "overall" in done.stdout
    again = subprocess.run([sys.executable, "-m", "limner.agent.cli", "bench", "shapes", "--images", str(images),
                            "--results", str(tmp_path / "r2.json")], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "r2.json").read_text())
    assert second["tags"] == first["tags"] and second["counts"] == first["counts"]


@pytest.mark.parametrize("args, expected", [
    (["--images", "/nonexistent"], "is not a GenEval image folder"),
    (["--suite", "/nonexistent.jsonl"], "cannot read suite"),
    (["--model", "nope"], "unknown model 'nope'"),
])
def test_bench_shapes_bad_input_is_one_line(tmp_path, args, expected):
    done = subprocess.run([sys.executable, "-m", "limner.agent.cli", "bench", "shapes", "--results", str(tmp_path / "r.json"),
                           *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and expected in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()
