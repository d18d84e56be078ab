"""The approval links' signing key rotates on the local cloud as on AWS: Secrets Manager (moto)
calls the stack's RotateSigningKey function with each step, and a link mailed before the rotation
still opens the page and decides (it is checked with the AWSPREVIOUS key too)."""

from __future__ import annotations

import pytest

from cfcd.local.seed import SeededSite
from tests.conftest import LocalCloudHandle
from tests.e2e.test_approval_browser import wait_for_approval_mail
from tests.e2e.test_no_token_leak import FormFields, fetch
from tests.statemachine.test_release import Release, release_input

pytestmark = pytest.mark.e2e


def test_a_link_mailed_before_a_rotation_still_decides(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given a release waiting for approval, its link mailed, signed with the current key
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))
    mail = wait_for_approval_mail(cloud, release)
    secrets = cloud.client("secretsmanager")
    [secret] = [s for s in secrets.list_secrets()["SecretList"] if "ApprovalSigningSecret" in s["Name"]]
    before = secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]

    # When Secrets Manager rotates the key with the rotation function the stack configured
    secrets.rotate_secret(SecretId=secret["ARN"], RotationLambdaARN=secret["RotationLambdaARN"])

    # Then a new key is current and the old one previous
    after = secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]
    previous = secrets.get_secret_value(SecretId=secret["ARN"], VersionStage="AWSPREVIOUS")["SecretString"]
    assert after != before and previous == before and len(after) >= 32
    # and the link mailed before still shows the page, and its form decides
    shown_status, shown = fetch(mail.approve_link)
    assert shown_status == 200
    form = FormFields()
    form.feed(shown.decode())
    decided_status, decided = fetch(
        mail.approve_link, {**form.fields, "decision": "approve", "decidedBy": "Rota"}
    )
    assert decided_status == 200 and b"Approved by Rota" in decided
    assert release.finished()["status"] == "SUCCEEDED"
