"""The words the rules reader knows, as data: cue phrases (relations, exclusions, lists, links), attribute
words by kind, style and medium words. Each phrase is a tuple of lower-case words; longer phrases win."""

from __future__ import annotations

COUNTS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
          "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
          "twenty": 20, "dozen": 12, "pair": 2, "couple": 2, "trio": 3, "both": 2}
# "a pair of", "a couple of", "a dozen": the article is part of the count
COUNT_PHRASES = {("the", "other"): 1, ("the", "others"): 1, ("a", "pair", "of"): 2, ("a", "couple", "of"): 2, ("a", "trio", "of"): 3, ("a", "dozen"): 12,
                 ("pair", "of"): 2, ("couple", "of"): 2}
SOME = {"some", "several", "many", "multiple", "few", "various", "numerous", "lots", "a few", "a lot of",
        "lots of", "a bunch of", "a group of", "a number of"}
COUNT_MODIFIERS = {"exactly", "precisely", "only", "just", "total", "of"}

BASE_COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray",
               "grey", "cyan", "magenta", "violet", "turquoise", "teal", "navy", "maroon", "beige", "gold",
               "silver", "crimson", "indigo", "lime", "olive", "tan", "ivory", "cream", "lavender", "scarlet"}
COLOR_SHADES = {"light", "dark", "pale", "bright", "deep", "pastel", "neon"}
COLOR_NOUNS = {"orange", "lime", "olive", "cream", "gold", "silver"}  # also things ("an orange")
SIZES = {"small", "large", "big", "tiny", "huge", "little", "giant", "tall", "short", "long", "medium", "massive",
         "miniature", "enormous", "small-sized", "large-sized", "medium-sized", "oversized", "wide", "narrow",
         "thin", "thick", "fat", "skinny"}
MATERIALS = {"wooden", "wood", "metal", "metallic", "glass", "plastic", "stone", "leather", "golden", "paper",
             "ceramic", "velvet", "cotton", "woolen", "wool", "silk", "marble", "steel", "iron", "brass",
             "copper", "concrete", "brick", "clay", "crystal", "fabric", "denim", "porcelain", "bronze"}
TEXTURES = {"striped", "spotted", "dotted", "fluffy", "furry", "shiny", "matte", "glossy", "smooth", "rough",
            "checkered", "plaid", "polka-dot", "wrinkled", "fuzzy", "hairy", "soft", "hard", "transparent",
            "translucent", "sparkly", "glittery", "patterned", "textured", "wet", "dry", "rusty"}
SHAPE_WORDS = {"round", "rectangular", "circular", "triangular", "oval", "square-shaped", "curved", "flat",
               "spiky", "pointed"}
OTHER_ATTRIBUTES = {"old", "new", "young", "broken", "vintage", "modern", "ancient", "antique", "cute", "happy",
                    "sad", "angry", "sleeping", "smiling", "empty", "full", "open", "closed", "hollow", "solid",
                    "outlined", "filled", "bold", "faded", "glowing", "cartoon", "realistic", "plain", "fancy",
                    "wild", "fresh", "ripe", "rotten", "hot", "cold", "frozen", "burning", "shiny", "clean",
                    "dirty", "colorful", "colourful", "bright", "dark", "pale"}
ATTRIBUTES = SIZES | MATERIALS | TEXTURES | SHAPE_WORDS | OTHER_ATTRIBUTES

# (phrase words, relation): longest first wins
RELATIONS = {
    "left of": ["left of", "to the left of", "on the left of", "on the left side of", "to the left side of",
                "at the left of", "left to", "on the left-hand side of", "to the left-hand side of", "left side of",
                "west of", "leftward of"],
    "right of": ["right of", "to the right of", "on the right of", "on the right side of", "to the right side of",
                 "at the right of", "right to", "on the right-hand side of", "to the right-hand side of",
                 "right side of", "east of", "rightward of"],
    "above": ["above", "over", "on top of", "atop", "on the top of", "higher than", "up above",
              "on the upper side of", "hovering over", "floating above", "north of", "stacked on top of",
              "over the top of", "on top"],
    "below": ["below", "under", "beneath", "underneath", "lower than", "at the bottom of", "on the bottom of",
              "down below", "south of", "under the bottom of"],
}
# a relation to the object named before the subject ("a square and three circles to its left")
RELATIONS_TO_IT = {
    "left of": ["to its left", "on its left", "to the left of it", "left of it", "on the left of it", "at its left"],
    "right of": ["to its right", "on its right", "to the right of it", "right of it", "on the right of it",
                 "at its right"],
    "above": ["above it", "over it", "on top of it", "atop it", "above them", "over them", "on top of them"],
    "below": ["below it", "under it", "beneath it", "underneath it", "below them", "under them", "beneath them"],
}
WHOLE_IMAGE = ["make sure", "make sure that", "ensure", "ensure that", "be sure", "be sure that", "in the picture", "in the image", "in the scene", "in the photo", "in the frame", "in the drawing",
               "in the painting", "in this picture", "in this image", "in the illustration", "anywhere",
               "in the foreground", "at all", "whatsoever"]
# spatial words that are not a direction the checks test: the entities are planned, the words listed
UNDIRECTED = ["next to", "beside", "besides", "near", "close to", "by", "alongside of", "adjacent to", "around",
              "behind", "in front of", "inside", "in", "within", "on", "upon", "between", "among", "on the side of",
              "surrounded by", "facing", "touching", "far from", "at", "across from", "opposite"]
NEGATIONS = ["no", "without", "without any", "not any", "but no", "and no", "with no", "never", "none",
             "exclude", "excluding", "avoid", "do not include", "don't include", "do not show", "don't show",
             "do not draw", "don't draw", "do not add", "don't add", "must not contain", "must not include",
             "must not show", "must not have", "should not contain", "should not include", "should not show",
             "should not have", "shouldn't have", "shouldn't contain", "there should be no", "there must be no",
             "there are no", "there is no", "free of", "free from", "zero", "not a single", "not one", "minus",
             "leave out", "leaving out", "omit", "omitting", "lacking", "lacks", "with absolutely no",
             "absolutely no", "no more", "nor", "not even one", "but not", "not"]
COORDINATORS = ["and", ",", "&", "plus", "as well as", "along with", "together with", "alongside", "with",
                "and also", "and then", "also", "accompanied by", "next to it", "and a further"]
OR_WORDS = ["or", "either"]
# words that link a subject to what is said of it ("the hat was on top of", "a circle that is red")
LINKS = {"is", "are", "was", "were", "be", "being", "been", "sits", "sit", "sitting", "stands", "stand",
         "standing", "lies", "lie", "lying", "placed", "located", "positioned", "situated", "hangs", "hanging",
         "floats", "floating", "rests", "resting", "appears", "appear", "seen", "shown", "just", "directly",
         "slightly", "right", "immediately", "somewhere", "clearly", "which", "that", "who", "where",
         "should", "must", "has", "have", "to", "also", "all", "each", "every", "both", "one", "drawn",
         "painted", "colored", "coloured", "in", "of", "set", "put", "there", "here", "it's", "they're",
         "straight", "visible", "far", "well", "only", "exactly", "precisely", "both", "together"}
PRONOUNS = {"it", "them", "they"}
OPENER_ADJ = {"simple", "realistic", "detailed", "minimalist", "vintage", "cute", "beautiful", "clean", "colorful",
              "colourful", "high-quality", "professional", "stock", "candid", "cinematic", "digital", "oil",
              "watercolor", "watercolour", "pencil", "ink", "3d", "flat", "vector", "black-and-white", "close-up",
              "closeup", "studio", "aerial", "top-down", "macro", "blurry", "sharp", "children's", "kids", "child's",
              "pixel", "line", "charcoal", "crayon", "toy"}
ARTICLES = {"a", "an", "the", "another", "some", "any", "each", "every", "this", "that", "these", "those"}

# openers that say what kind of image the brief is: the medium goes to the plan's style
MEDIA = {"photo", "photograph", "picture", "image", "painting", "drawing", "illustration", "render",
         "rendering", "sketch", "watercolor", "watercolour", "cartoon", "pixel art", "oil painting",
         "digital painting", "3d render", "poster", "icon", "logo", "diagram", "still life", "portrait", "scene",
         "view", "shot", "close-up", "closeup", "snapshot", "artwork", "collage", "vector art", "clipart",
         "clip art", "line drawing", "pencil drawing", "ink drawing", "anime", "comic", "mosaic"}
# a request that opens a sentence asks for the image and says nothing of it ("please draw", "can you show me")
REQUESTS = ["draw", "draw me", "paint", "paint me", "show", "show me", "sketch", "sketch me", "generate",
            "create", "make", "make me", "render", "illustrate", "depict", "design", "produce", "give me",
            "i want", "i need", "i'd like", "i would like", "please", "can you", "could you", "would you",
            "can you draw", "could you draw", "can you make", "could you make", "can you show me", "let's see",
            "imagine", "picture", "visualize", "visualise"]
STYLE_WORDS = {"style", "photo", "photograph", "photorealistic", "realistic", "hyperrealistic", "painting",
               "illustration", "render", "rendered", "cinematic", "lighting", "light", "detailed", "highly",
               "high", "quality", "resolution", "4k", "8k", "hd", "uhd", "sharp", "focus", "bokeh", "studio",
               "minimalist", "minimal", "flat", "vector", "watercolor", "watercolour", "oil", "sketch",
               "drawing", "art", "artwork", "digital", "concept", "trending", "masterpiece", "best", "award",
               "winning", "professional", "vibrant", "colors", "colours", "soft", "dramatic", "moody", "pastel",
               "aesthetic", "simple", "clean", "background", "isometric", "3d", "2d", "low", "poly", "anime",
               "cartoon", "comic", "pixel", "photography", "35mm", "50mm", "film", "grain", "portrait",
               "wide", "angle", "shot", "close-up", "closeup", "macro", "view", "top", "down", "overhead",
               "symmetrical", "centered", "composition", "black-and-white", "monochrome", "sepia", "vintage",
               "retro", "surreal", "fantasy", "epic", "beautiful", "stunning", "golden", "hour", "sunset",
               "night", "daylight", "natural", "ultra", "very", "octane", "unreal", "engine", "volumetric",
               "by", "in", "the", "of", "a", "an", "and", "with", "on", "at", "look", "looking", "like"}
NOUN_ING = {"painting", "drawing", "building", "ring", "earring", "king", "string", "thing", "ceiling", "wedding",
            "pudding", "sling", "swing", "wing", "spring", "sibling", "seedling", "dumpling", "sapling",
            "stocking", "icing", "frosting", "clothing", "railing", "awning", "evening", "morning", "sing",
            "ping", "bling", "duckling", "darling", "herring", "whiting", "lightning", "ceiling", "bedding",
            "stuffing", "topping", "filling", "lasagna", "wingding", "pudding", "sibling"}
# what is neither a noun nor an attribute: prepositions, verbs, pronouns, conjunctions and the like
FUNCTION = {"in", "on", "at", "with", "of", "by", "near", "from", "into", "for", "the", "is", "are", "and", "to",
            "while", "during", "very", "was", "were", "be", "been", "being", "has", "have", "had", "does", "do",
            "did", "can", "will", "would", "could", "should", "must", "may", "might", "it", "its", "this",
            "that", "these", "those", "there", "their", "they", "them", "he", "she", "his", "her", "my", "your",
            "our", "as", "like", "not", "no", "or", "but", "if", "so", "up", "down", "out", "off", "make",
            "made", "show", "draw", "paint", "then", "than", "where", "what", "who", "which", "whose", "when",
            "why", "how", "i", "me", "we", "us", "you", "him", "itself", "themselves", "each", "other",
            "under", "over", "above", "below", "between", "through", "across", "behind", "beside", "inside",
            "outside", "around", "about", "against", "toward", "towards", "onto", "upon", "within", "without",
            "along", "among", "next", "beneath", "underneath", "atop", "left", "right", "top", "bottom",
            "side", "front", "back", "middle", "center", "centre", "corner", "please", "also", "too", "just",
            "only", "all", "any", "every", "both", "either", "neither", "nor", "yet", "still", "again", "here",
            "now", "instead", "rather", "quite", "really", "almost", "enough", "such", "same", "own", "let",
            "lets", "let's", "get", "got", "put", "place", "set", "want", "need", "like", "see", "look", "looks",
            "holding", "holds", "hold", "eating", "eats", "chasing", "chases", "riding", "rides", "playing",
            "plays", "running", "runs", "jumping", "jumps", "flying", "flies", "walking", "walks", "wearing",
            "wears", "carrying", "carries", "reading", "reads", "looking", "watching", "watches", "sleeping",
            "sleeps", "drinking", "drinks", "using", "uses", "pushing", "pulling", "throwing", "catching",
            "sitting", "sits", "standing", "stands", "lying", "lies", "hanging", "hangs", "floating", "floats",
            "leaning", "leans", "resting", "rests", "made", "covered", "filled", "surrounded", "painted",
            "seen", "shown", "drawn", "placed", "located", "positioned", "situated", "touching", "facing",
            "overlapping", "stacked", "arranged", "scattered", "lined", "dancing", "swimming", "climbing",
            "singing", "talking", "smiling", "crying", "laughing", "cooking", "writing", "fighting", "kissing",
            "hugging", "feeding", "cutting", "kicking", "hitting", "waiting", "flowing", "growing", "shining",
            "burning", "melting", "falling", "rising", "glowing", "blooming", "sailing", "driving", "parked",
            "hidden", "eaten", "taken", "fallen", "written", "stolen", "driven", "given", "held", "built", "worn",
            "embraced", "gleamed", "stood", "sat", "lay", "ran", "ate", "held", "wore"}

# function words of other languages: a brief that has more of them than of English ones is not read as English
FOREIGN = {"ein", "eine", "einen", "der", "die", "das", "und", "mit", "von", "zwei", "drei", "auf", "links", "rechts",
           "le", "la", "les", "un", "une", "des", "et", "avec", "deux", "trois", "sur", "el", "los", "las", "y", "con",
           "dos", "tres", "una", "del", "il", "di", "e", "uno", "due", "tre", "sopra", "sotto", "een", "het", "twee",
           "und", "ist", "sind", "est", "sont", "es", "son", "foto", "imagen", "bild"}
ENGLISH = {"a", "an", "the", "and", "of", "with", "is", "are", "on", "in", "no", "two", "three", "left", "right",
           "above", "below", "photo", "picture", "image"}

# words that are nouns at the end of a noun phrase ("a book stand") and verbs or links elsewhere
NOUN_OR_VERB = {"stand", "set", "rest", "display", "light", "place", "way", "lie", "sit", "hold", "show"}
POSSESSIVES = {"his", "her", "their", "its", "my", "your", "our"}  # determiners of a new entity ("his car")
