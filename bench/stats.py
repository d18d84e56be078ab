"""Small statistics shared by the figures."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least squares ``y = a + b·x``: (a, b). Needs two distinct x values."""
    slope, intercept = statistics.linear_regression(xs, ys)
    return float(intercept), float(slope)
