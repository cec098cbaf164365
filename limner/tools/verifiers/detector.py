"""Open-vocabulary detection: which of the named objects an image holds, with boxes.

``Detector`` wraps a transformers zero-shot object detector (OWLv2, OWL-ViT, Grounding DINO), loaded with
``AutoModelForZeroShotObjectDetection`` and ``AutoProcessor`` from a hub id or a folder (the embedded
``shapes-owl`` is an OWLv2 folder and loads the same way). What an architecture's outputs mean is read from
one table by its class (``ARCHITECTURES``), never from its name.

``detect(image, phrases)`` gives, per phrase, its detections above ``threshold`` after non-maximum
suppression: ``{"phrase", "score", "bbox": [x0, y0, x1, y1] in pixels, "scores": {phrase: score}}`` where
``scores`` holds every phrase's score at that box (both architectures score every phrase at every box, so a
colour can be read from the detector as well as from a CLIP crop).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Architecture:
    """How one detector class's outputs read."""

    decoding: str  # "owl": per-patch logits over the queries; "grounding": per-query logits over text tokens
    square_pad: bool = False  # boxes are relative to the image padded to a square (OWLv2), else to the image


ARCHITECTURES: dict[str, Architecture] = {
    "Owlv2ForObjectDetection": Architecture("owl", square_pad=True),
    "OwlViTForObjectDetection": Architecture("owl", square_pad=False),
    "GroundingDinoForObjectDetection": Architecture("grounding"),
    "MMGroundingDinoForObjectDetection": Architecture("grounding"),
}


DEFAULT_THRESHOLD = 0.2  # OWLv2's scores run lower than a closed-set detector's; GenEval's Mask2Former uses 0.3
DEFAULT_NMS = 0.5
SETTINGS_FILE = "limner_detector.json"  # a detector folder's own settings (threshold, nms, color), as measured


def folder_settings(model: str) -> dict:
    """The settings a detector folder carries in ``limner_detector.json`` (the shipped shapes-owl's were chosen
    on images it never trained on, prompts shared with the shipped suite); ``{}`` for a folder without them or a hub id."""
    from limner.tools.verifiers.clip_base import resolve_local

    try:
        path = Path(resolve_local(model)) / SETTINGS_FILE
    except RuntimeError:
        return {}
    return json.loads(path.read_text()) if path.is_file() else {}


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(detections: list[dict], threshold: float) -> list[dict]:
    """Greedy non-maximum suppression: the best-scoring box first, dropping boxes that overlap a kept one."""
    kept: list[dict] = []
    for d in sorted(detections, key=lambda d: -d["score"]):
        if all(iou(d["bbox"], k["bbox"]) < threshold for k in kept):
            kept.append(d)
    return kept


class Detector:
    """A zero-shot object detector. ``threshold``: the least score a detection keeps; ``nms``: the IoU above
    which the weaker of two boxes of one phrase is dropped."""

    def __init__(self, model: str, device: str | None = None, threshold: float | None = None,
                 nms: float | None = None, doubt: float | None = None, confident: float | None = None):
        self.model_id = model
        self._device = device
        shipped = folder_settings(model)
        self.threshold = threshold if threshold is not None else shipped.get("threshold", DEFAULT_THRESHOLD)
        self.nms = nms if nms is not None else shipped.get("nms", DEFAULT_NMS)
        # below ``threshold``, the least score at which a box still casts doubt on "nothing else is there" (an
        # 'only' or 'absent' check): a miss there is a false pass, so those checks listen to weaker boxes
        self.doubt = min(self.threshold, doubt if doubt is not None else shipped.get("doubt", self.threshold))
        # None, or at least ``threshold``: the least reading (the name's score; the colour's, where it reads
        # colours) that passes a check that something is there; a box read less surely is something there, not
        # the asked thing. None (the default): no level, every box at the threshold reads as what it scores
        level = confident if confident is not None else shipped.get("confident")
        self.confident = None if level is None else max(self.threshold, float(level))
        # the object names a closed-vocabulary detector was taught (None: open vocabulary, any name)
        self.vocabulary = frozenset(shipped["vocabulary"]) if shipped.get("vocabulary") else None
        self._model = self._processor = None

    def describe(self) -> dict:
        return {"model": self.model_id, "threshold": self.threshold, "nms": self.nms,
                **({"doubt": self.doubt} if self.doubt < self.threshold else {}),
                **({"confident": self.confident} if self.confident is not None else {})}

    @property
    def architecture(self) -> Architecture:
        self._load()
        name = type(self._model).__name__
        if name not in ARCHITECTURES:
            raise ValueError(f"detector '{self.model_id}' is a {name}, which Limner cannot read: use one of "
                             f"{', '.join(ARCHITECTURES)}")
        return ARCHITECTURES[name]

    def _load(self) -> None:
        if self._model is not None:
            return
        from limner.tools._loading import load_once
        from limner.tools._quiet import quiet_libraries
        from limner.tools.generators.diffusers_backend import pick_device
        from limner.tools.verifiers.clip_base import resolve_local

        quiet_libraries()
        self.device = pick_device(self._device)

        def load():
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

            path = resolve_local(self.model_id)
            try:
                processor = AutoProcessor.from_pretrained(path)
            except ImportError as exc:  # OWLv2's image processor needs scipy without torchvision
                raise RuntimeError(f"cannot load detector '{self.model_id}': {str(exc).splitlines()[0]}") from None
            model = AutoModelForZeroShotObjectDetection.from_pretrained(path)
            return model.eval().requires_grad_(False).to(self.device), processor

        self._model, self._processor = load_once(("detector", self.model_id, str(self.device)), self.model_id, load)

    def detect(self, image, phrases: list[str], threshold: float | None = None) -> dict[str, list[dict]]:
        """``{phrase: [detection, ...]}``, best first, for each distinct phrase, scoring at least ``threshold``
        (default: the detector's)."""
        phrases = list(dict.fromkeys(phrases))
        if not phrases:
            return {}
        arch = self.architecture
        image = image.convert("RGB")
        least = self.threshold if threshold is None else threshold
        if arch.decoding == "owl":
            found = self._owl(image, phrases, arch, least)
        else:
            found = self._grounding(image, phrases, least)
        return {p: nms([d for d in found if d["phrase"] == p], self.nms) for p in phrases}

    def _owl(self, image, phrases: list[str], arch: Architecture, least: float) -> list[dict]:
        import torch

        inputs = self._processor(text=[phrases], images=image, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self._model(**inputs)
        scores = out.logits[0].float().sigmoid().cpu()  # (patches, phrases)
        cx, cy, w, h = out.pred_boxes[0].float().cpu().unbind(-1)
        width, height = image.size
        sx, sy = (max(width, height),) * 2 if arch.square_pad else (width, height)
        boxes = torch.stack([(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy], -1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        return self._keep(phrases, scores, boxes, least)

    def _grounding(self, image, phrases: list[str], least: float) -> list[dict]:
        """Grounding DINO: a phrase's score at a box is the highest probability among its tokens (the model's
        own rule). Phrases that do not fit in one prompt (``max_text_len`` tokens) are asked in several."""
        limit = getattr(self._model.config, "max_text_len", 256) - 2
        groups: list[list[str]] = [[]]
        for p in phrases:
            if groups[-1] and len(self._processor.tokenizer(" . ".join([*groups[-1], p]) + " .").input_ids) > limit:
                groups.append([])
            groups[-1].append(p)
        found = []
        for group in groups:
            found += self._grounding_prompt(image, group, least)
        return found

    def _grounding_prompt(self, image, phrases: list[str], least: float) -> list[dict]:
        import torch

        spans, text = [], ""
        for p in phrases:  # the model's prompt: lower-case phrases, each ended by " ."
            spans.append((len(text), len(text) + len(p)))
            text += p.lower() + " . "
        text = text.rstrip()
        inputs = self._processor(images=image, text=text, return_tensors="pt").to(self.device)
        offsets = self._processor.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
        with torch.no_grad():
            out = self._model(**inputs)
        probs = out.logits[0].float().sigmoid().cpu()  # (queries, text tokens)
        tokens = [[t for t, (a, b) in enumerate(offsets) if b > a and start <= a and b <= end]
                  for start, end in spans]
        scores = torch.stack([probs[:, t].max(-1).values if t else torch.zeros(len(probs)) for t in tokens], -1)
        cx, cy, w, h = out.pred_boxes[0].float().cpu().unbind(-1)
        width, height = image.size
        boxes = torch.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                             (cy + h / 2) * height], -1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        return self._keep(phrases, scores, boxes, least)

    def _keep(self, phrases: list[str], scores, boxes, least: float) -> list[dict]:
        """Detections from every box's score per phrase (boxes, phrases) and its corners in pixels."""
        import torch

        real = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)  # a box, not a point
        found = []
        for q, phrase in enumerate(phrases):
            for p in torch.nonzero((scores[:, q] >= least) & real).flatten().tolist():
                found.append({"phrase": phrase, "score": round(float(scores[p, q]), 4),
                              "bbox": [round(float(v), 1) for v in boxes[p]],
                              "scores": {k: round(float(scores[p, j]), 4) for j, k in enumerate(phrases)}})
        return found
