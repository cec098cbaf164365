"""Editing tools, usable alone: region repair (inpainting inside a mask), variation (img2img) and
instruction editing (InstructPix2Pix family). All reuse a loaded generator's weights where they can.

    from limner.tools.editing import inpaint, box_mask_image
    result = inpaint(generator, image, box_mask_image(image.size, [0.5, 0.2, 1.0, 0.8]), "a blue square", seeds=[1, 2])
"""

from limner.tools.editing.inpaint import inpaint
from limner.tools.editing.instruct import instruct
from limner.tools.editing.masks import box_mask_image, composite, load_mask, soften
from limner.tools.editing.result import EditResult
from limner.tools.editing.variation import variation

__all__ = ["EditResult", "box_mask_image", "composite", "inpaint", "instruct", "load_mask", "soften", "variation"]
