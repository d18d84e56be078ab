"""The charts of a progressive release's steps on the approval page: inline SVG the page's
Content-Security-Policy lets through (no script, no style attribute), numbers only."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from cfcd_common.approval_views import PAGE_HEADERS, SignedFormFields, confirmation_page
from cfcd_common.approvals import ApprovalRequest, ApprovalStatus
from cfcd_common.progressive import AnalysisPoint, StepReport
from cfcd_common.step_charts import step_chart
from tests.unit.approval_support import sample_summary

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def step(number: int, rates: list[tuple[float, float]], passed: bool = True) -> StepReport:
    return StepReport(
        number=number,
        weight=0.05 * number,
        bakeSeconds=120,
        startedAt=0,
        bakeStartedAt=5,
        passedAt=130 if passed else None,
        analyses=[
            AnalysisPoint(
                at=30 * index,
                stagingRequests=40 * index,
                stagingErrorRate=staging,
                primaryRequests=900 * index,
                primaryErrorRate=primary,
            )
            for index, (staging, primary) in enumerate(rates)
        ],
    )


def test_a_chart_plots_both_rates_against_the_bake_with_the_limit_dashed() -> None:
    # Given a step whose staging rate rose to 2 % while the primary stayed at 0.1 %
    chart = ElementTree.fromstring(step_chart(step(1, [(0.0, 0.001), (0.01, 0.001), (0.02, 0.001)]), 0.01))
    # Then there are two lines of three points each, and the limit dashed
    lines = chart.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [3, 3]
    [limit] = chart.findall(f"{SVG}line")
    assert limit.get("stroke-dasharray")
    # And staging's last point is the highest one drawn (SVG's y grows downwards)
    primary, staging = ([float(p.split(",")[1]) for p in line.get("points", "").split()] for line in lines)
    assert min(staging) < min(primary) and min(staging) < float(limit.get("y1", "0"))
    # And the axis goes as high as the highest rate (above the limit)
    assert "2.00 %" in [text.text for text in chart.findall(f"{SVG}text")]


def test_the_page_shows_a_chart_per_step_and_nothing_the_csp_would_block() -> None:
    # Given an approval of a release with two steps, whose release name tries to inject markup
    summary = sample_summary(
        release='<script>alert("x")</script>',
        steps=[step(1, [(0.0, 0.0), (0.0, 0.0)]), step(2, [(0.0, 0.0)], passed=False)],
        step_count=3,
        max_error_rate=0.01,
    )
    request = ApprovalRequest(
        approval_id="a" * 24,
        execution_arn="arn:aws:states:us-east-1:1:execution:cfcd:r1",
        task_token="token",
        status=ApprovalStatus.PENDING,
        primary_distribution_id="EPRIMARY",
        staging_distribution_id="ESTAGING",
        created_at=0,
        deadline=100,
        expires_at=100,
        summary=summary,
    )
    page = confirmation_page(
        request, SignedFormFields(approval_id="a" * 24, expires_at=100, signature="s", csrf="c")
    )
    # Then each step has its chart and its line
    assert page.count("<svg") == 2
    assert "Step 1 of 3, weight 0.05, bake 120 s, passed after 2 analyses" in page
    assert "Step 2 of 3, weight 0.1, bake 120 s, baking after 1 analyses" in page
    # And nothing needs what the Content-Security-Policy forbids: scripts, style attributes
    assert "script-src" not in PAGE_HEADERS["Content-Security-Policy"]
    assert "<script" not in page and re.search(r"\sstyle=", page) is None
