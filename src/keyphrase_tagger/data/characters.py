"""Text as an array of code points, the one conversion every array-based stage starts from."""

from __future__ import annotations

import numpy as np


def code_points(text: str) -> np.ndarray:
    """One ``int64`` code point per character (``surrogatepass``: a lone surrogate, which a JSON
    ``"\\ud800"`` escape can put in a text, is a character too)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
