"""How the steps of a progressive release read in the approval mail and page: a line of text and a
small chart per step (inline SVG: no script, no style attribute, so the page's
Content-Security-Policy lets it through), staging's and the primary's 5xx error rate over the bake.

Every number is formatted here from a float or int; the only text, the captions, goes through
`html.escape`.
"""

from __future__ import annotations

import html

from cfcd_common.progressive import StepReport

WIDTH, HEIGHT = 280, 96
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 8, 20
STAGING_COLOUR, PRIMARY_COLOUR, LIMIT_COLOUR = "#a4161a", "#1f5fa8", "#6b6b6b"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def step_line(step: StepReport, step_count: int) -> str:
    head = f"Step {step.number} of {step_count}, weight {step.weight:g}, bake {step.bakeSeconds} s"
    latest = step.latest
    if latest is None:
        return f"{head}: not analysed"
    verdict = "passed" if step.passedAt is not None else "baking"
    return (
        f"{head}, {verdict} after {len(step.analyses)} analyses: 5xx staging "
        f"{percent(latest.stagingErrorRate)} of {latest.stagingRequests} requests, primary "
        f"{percent(latest.primaryErrorRate)} of {latest.primaryRequests} requests over {latest.at} s"
    )


def _points(step: StepReport, rate_of: str, x_of: float, y_of: float) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    return " ".join(
        f"{LEFT + point.at * x_of:.1f},{TOP + plot_h - getattr(point, rate_of) * y_of:.1f}"
        for point in step.analyses
    )


def step_chart(step: StepReport, max_error_rate: float | None) -> str:
    """An SVG of both error rates against seconds into the bake, the limit dashed."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max([step.bakeSeconds, *(point.at for point in step.analyses)], default=1) or 1
    rates = [rate for point in step.analyses for rate in (point.stagingErrorRate, point.primaryErrorRate)]
    ceiling = max([0.001, *rates, *([max_error_rate * 1.25] if max_error_rate else [])])
    x_of, y_of = plot_w / span, plot_h / ceiling
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f"<title>{html.escape(f'Step {step.number}: 5xx error rate, staging and primary')}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#cccccc"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" font-size="9" text-anchor="end">{percent(ceiling)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" font-size="9" text-anchor="end">0 %</text>',
        f'<text x="{LEFT + plot_w}" y="{HEIGHT - 6}" font-size="9" text-anchor="end">{span} s</text>',
    ]
    if max_error_rate:
        y = TOP + plot_h - max_error_rate * y_of
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="{LIMIT_COLOUR}" '
            'stroke-dasharray="4 3"/>'
        )
    for rate_of, colour in (("primaryErrorRate", PRIMARY_COLOUR), ("stagingErrorRate", STAGING_COLOUR)):
        parts.append(
            f'<polyline points="{_points(step, rate_of, x_of, y_of)}" fill="none" stroke="{colour}" '
            'stroke-width="1.5"/>'
        )
    return "".join(parts) + "</svg>"


def steps_section(steps: list[StepReport], step_count: int, max_error_rate: float | None) -> str:
    """The HTML section of every step: its line and its chart."""
    if not steps:
        return ""
    limit = f"; dashed: analysis.maxErrorRate {percent(max_error_rate)}" if max_error_rate else ""
    legend = html.escape(f"5xx error rate over each step's bake: staging red, primary blue{limit}")
    legend = f"<p><small>{legend}</small></p>"
    figures = "".join(
        f"<figure>{step_chart(step, max_error_rate)}<figcaption>{html.escape(step_line(step, step_count))}"
        "</figcaption></figure>"
        for step in steps
    )
    return f"<h2>Progressive steps</h2>{legend}{figures}"
