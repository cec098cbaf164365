"""A VLM judge: a vision-language model behind an OpenAI-compatible endpoint scores each image on a rubric.

The rubric (``limner/prompts/vlm_judge.md``) asks for five criteria scored 0-10, returned
as JSON and validated by pydantic. Calibration: ``score`` is the weighted mean of
the criteria divided by 10, with weights ``CRITERION_WEIGHTS`` (prompt adherence
and object correctness dominate). One LLM call per image.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, Field

from limner import prompts
from limner.tools.verifiers.base import Score, clamp01

CRITERION_WEIGHTS = {
    "prompt_adherence": 0.35,
    "object_correctness": 0.25,
    "composition": 0.15,
    "quality": 0.15,
    "artifacts": 0.10,
}


class Criterion(BaseModel):
    score: int = Field(ge=0, le=10)
    reason: str = ""


class Judgement(BaseModel):
    prompt_adherence: Criterion
    object_correctness: Criterion
    composition: Criterion
    quality: Criterion
    artifacts: Criterion


class Preference(BaseModel):
    winner: Literal["A", "B", "tie"]
    reason: str = ""


class VLMJudge:
    name = "vlm-judge"
    differentiable = False
    llm_calls_per_image = 1

    def __init__(self, llm, model: str | None = None, max_workers: int = 4):
        if llm is None:
            raise ValueError("the vlm-judge verifier needs an LLM endpoint: set LIMNER_LLM_BASE_URL")
        self.llm = llm
        self.model = model
        self.max_workers = max_workers

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model or self.llm.vision_model}

    def _judge(self, image, prompt: str) -> Score:
        from limner.tools.images import data_url

        messages = [{"role": "user", "content": [
            {"type": "text", "text": prompts.render("vlm_judge", prompt=prompt)},
            {"type": "image_url", "image_url": {"url": data_url(image)}},
        ]}]
        judgement = self.llm.structured(messages, Judgement, purpose="vlm-judge", model=self.model, vision=True)
        raw = {k: getattr(judgement, k).score for k in CRITERION_WEIGHTS}
        value = sum(raw[k] * w for k, w in CRITERION_WEIGHTS.items()) / 10.0
        reasons = {k: getattr(judgement, k).reason for k in CRITERION_WEIGHTS}
        return Score(score=clamp01(value), raw=raw, detail={"reasons": reasons})

    def score(self, images: list, prompts_: list[str]) -> list[Score]:
        """One call per image, up to ``max_workers`` at once; results keep the images' order."""
        if len(images) != len(prompts_):
            raise ValueError("score() needs one prompt per image")
        if self.max_workers <= 1 or len(images) <= 1:
            return [self._judge(im, p) for im, p in zip(images, prompts_)]
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return list(pool.map(self._judge, images, prompts_))

    def compare(self, image_a, image_b, prompt: str) -> Preference:
        """Pairwise: which of two images follows the prompt better (one call, both images)."""
        from limner.tools.images import data_url

        messages = [{"role": "user", "content": [
            {"type": "text", "text": prompts.render("vlm_pairwise", prompt=prompt)},
            {"type": "image_url", "image_url": {"url": data_url(image_a)}},
            {"type": "image_url", "image_url": {"url": data_url(image_b)}},
        ]}]
        return self.llm.structured(messages, Preference, purpose="vlm-pairwise", model=self.model, vision=True)
