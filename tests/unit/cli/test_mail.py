"""`cfcd mail`: the local cloud's captured mail, listed and opened."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cfcd.local.mail import MailSink

pytestmark = pytest.mark.unit

APPROVAL_BASE = "http://127.0.0.1:45123/"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A state dir with local.json and two mails captured the way the local cloud captures them."""
    directory = tmp_path / "state"
    directory.mkdir()
    (directory / "local.json").write_text(
        json.dumps({"awsEndpoint": "http://127.0.0.1:1", "approvalBaseUrl": APPROVAL_BASE})
    )
    sink = MailSink(directory / "mail")
    sink.sns(
        "arn:aws:sns:us-east-1:123456789012:cfcd", "Release SUCCEEDED", "See https://example.com/docs", []
    )
    sink.ses(
        "cfcd@example.com",
        ["ops@example.com"],
        [],
        "Approve release 2.0.0?",
        f"Docs: https://example.com/docs\nApprove: {APPROVAL_BASE}?id=abc&exp=1&sig=f00\n",
        f'<a href="{APPROVAL_BASE}?id=abc&exp=1&sig=f00">Approve</a>',
    )
    return directory


def test_mail_lists_subjects_with_the_approval_link_first(
    state_dir: Path, cli: click.Group, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["mail", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("  1  ") and lines[0].endswith("Release SUCCEEDED")
    assert lines[1].strip() == "https://example.com/docs"
    assert lines[2].startswith("  2  ") and lines[2].endswith("Approve release 2.0.0?")
    # The approval link wins over the earlier docs link.
    assert lines[3].strip() == f"{APPROVAL_BASE}?id=abc&exp=1&sig=f00"


def test_mail_open_prints_the_newest_message_and_its_links(
    state_dir: Path, cli: click.Group, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["mail", "--open", "-1", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    assert "Subject: Approve release 2.0.0?" in result.stdout
    assert "To: ops@example.com" in result.stdout
    assert f"  {APPROVAL_BASE}?id=abc&exp=1&sig=f00" in result.stdout


def test_mail_open_out_of_range_is_a_usage_error(
    state_dir: Path, cli: click.Group, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["mail", "--open", "3", "--state-dir", str(state_dir)])

    assert result.exit_code == 2
    assert "there are 2 mails" in result.stderr


def test_no_mail_yet(tmp_path: Path, cli: click.Group, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["mail", "--state-dir", str(tmp_path)])

    assert result.exit_code == 0
    assert "No captured mail" in result.stdout
