"""A VLM judge: a vision-language model behind an OpenAI-compatible endpoint scores each image on a rubric.

The rubric (``prompts/vlm_judge.md``) asks for five criteria scored 0-10, returned
as JSON and validated by pydantic. Calibration: ``score`` is the weighted mean of
the criteria divided by 10, with weights ``CRITERION_WEIGHTS`` (prompt adherence
and object correctness dominate). One LLM call per image.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

import prompts
from tools.verifiers.base import Score, clamp01

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


class VLMJudge:
    name = "vlm-judge"
    differentiable = False
    llm_calls_per_image = 1

    def __init__(self, llm, model: str | None = None):
        if llm is None:
            raise ValueError("the vlm-judge verifier needs an LLM endpoint: set LIMNER_LLM_BASE_URL")
        self.llm = llm
        self.model = model

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model or self.llm.vision_model}

    def score(self, images: list, prompts_: list[str]) -> list[Score]:
        from tools.images import data_url

        if len(images) != len(prompts_):
            raise ValueError("score() needs one prompt per image")
        results = []
        for image, prompt in zip(images, prompts_):  # sequential: results stay in the images' order
            messages = [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompts.render("vlm_judge", prompt=prompt)},
                        {"type": "image_url", "image_url": {"url": data_url(image)}},
                    ],
                }
            ]
            judgement = self.llm.structured(messages, Judgement, purpose="vlm-judge", model=self.model, vision=True)
            raw = {k: getattr(judgement, k).score for k in CRITERION_WEIGHTS}
            value = sum(raw[k] * w for k, w in CRITERION_WEIGHTS.items()) / 10.0
            reasons = {k: getattr(judgement, k).reason for k in CRITERION_WEIGHTS}
            results.append(Score(score=clamp01(value), raw=raw, detail={"reasons": reasons}))
        return results
