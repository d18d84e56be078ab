"""`cfcd demo`: the seed article's whole story on a local cloud of its own, with proof at each step.

:func:`run_demo` starts the local cloud in this process (moto, the CloudFront emulator, the edge,
the Lambdas of ``template.yaml``, the seeded site), tells the story (:mod:`cfcd.demo.story`) and
stops everything again. The steps take a :class:`DemoContext`, so the e2e tests run them against
their shared local cloud too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from cfcd.demo import story
from cfcd.demo.context import DemoContext
from cfcd.demo.report import DemoFailed, Report
from cfcd.local.cloud import LOCAL_JSON, LocalCloud, describe, stop_on_signal

__all__ = ["DemoContext", "DemoFailed", "Report", "run_demo"]

STARTUP_DEADLINE_SECONDS = 120.0
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def run_demo(
    state_dir: Path,
    template: Path,
    propagation_seconds: float,
    out: TextIO | None = None,
    keep_cloud: bool = False,
) -> int:
    """Run the story on a fresh local cloud; 0 when every check passed, 1 otherwise.

    ``keep_cloud``: once the story has passed, the local cloud keeps running until SIGINT or SIGTERM
    (``cfcd local down``), for a look at what the story left: executions, mail, the edge."""
    report = Report(out or sys.stdout)
    report.info("cfcd demo: a CloudFront release with continuous deployment, on a local cloud")
    cloud = LocalCloud(
        state_dir=state_dir, template_path=template, propagation_seconds=propagation_seconds, seed=True
    )
    try:
        report.step(f"Start the local cloud (CloudFront propagation {propagation_seconds:g} s)")
        info = report.while_running(
            cloud.start,
            what=f"moto, the CloudFront emulator, the edge and the Lambdas of {template}",
            timeout=STARTUP_DEADLINE_SECONDS,
        )
        cloud.write_state()
        report.info(describe(info, cloud.startup_seconds).split("\n\n", 1)[0])
        if info.site is None:
            report.fail("the seeded site", "the local cloud started without one")
        story.tell(DemoContext(info, state_dir, info.site, report))
        _summary(report)
        if keep_cloud:
            _serve_until_stopped(report, state_dir)
    except KeyboardInterrupt:
        report.blank()
        report.info("Interrupted; stopping the local cloud.")
        return EXIT_INTERRUPTED
    except DemoFailed as failure:
        report.blank()
        report.info(f"DEMO FAILED after {report.elapsed():.1f} s: {failure}")
        report.info(f"Look at the Lambda logs in {state_dir / 'logs'}, the mail in {state_dir / 'mail'}")
        return EXIT_FAILED
    finally:
        cloud.remove_state()
        cloud.stop()
    return EXIT_OK


def _serve_until_stopped(report: Report, state_dir: Path) -> None:
    stop_requested = stop_on_signal()
    report.blank()
    report.info(
        f"The local cloud keeps running ({state_dir / LOCAL_JSON}): "
        f"Ctrl-C or `cfcd local down --state-dir {state_dir}` stops it."
    )
    stop_requested.wait()


def _summary(report: Report) -> None:
    lines = [f"Summary: {report.checks_passed} checks passed in {len(report.titles)} steps"]
    lines += [f"  ✓ {number}. {title}" for number, title in enumerate(report.titles, start=1)]
    lines.append(f"Total time: {report.elapsed():.1f} s")
    report.blank()
    report.info("\n".join(lines))
