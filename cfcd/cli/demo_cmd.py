"""`cfcd demo`: the seed article's story on a local cloud of its own (what `make demo` runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cfcd.cli.local_extra import local_extra_required

DEFAULT_STATE_DIR = Path(".cfcd") / "demo"
LOG_FILE = "demo.log"


@click.command("demo")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="The demo's own local cloud state: local.json while it runs, logs/ and mail/ after.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default="template.yaml",
    show_default=True,
    help="The SAM template to deploy on the local cloud.",
)
@click.option(
    "--propagation-seconds",
    type=click.FloatRange(min=0, max=30),
    default=1.5,
    show_default=True,
    help="How long a CloudFront change stays InProgress before the edge serves it.",
)
@click.option(
    "--keep-cloud",
    is_flag=True,
    help="Once the story has passed, keep the local cloud running to look at what it left "
    "(cfcd status, the mail, the edge) until Ctrl-C or `cfcd local down --state-dir DIR`.",
)
def demo_command(state_dir: Path, template: Path, propagation_seconds: float, keep_cloud: bool) -> None:
    """Watch a release go live step by step: v1 live, header release of v2 approved by email link
    and promoted, weight release of v3 (15 %, sticky) rejected and rolled back; then v4 in weight
    steps stopped at the first by its failing script, v3 promoted through every step with no
    human, and `cfcd rollback` back to v2.

    Starts its own local cloud (no AWS account, no Docker) and stops it at the end (with
    --keep-cloud, when stopped). Every check prints its evidence; the first failed check stops the
    demo with exit code 1.
    """
    # The local cloud runs in this process: its warnings (moto's among them) go to a file, not
    # between the demo's lines.
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=state_dir / LOG_FILE, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    with local_extra_required("cfcd demo"):
        from cfcd.demo import run_demo

    click.get_current_context().exit(
        run_demo(state_dir, template, propagation_seconds, keep_cloud=keep_cloud)
    )


def register(group: click.Group) -> None:
    group.add_command(demo_command)
