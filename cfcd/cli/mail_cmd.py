"""`cfcd mail`: the emails the local cloud captured (approval requests, notifications)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from cfcd.client.local_state import state_dir_from

if TYPE_CHECKING:
    from cfcd.local.mail import MailSummary


def _pick(mails: list[MailSummary], number: int) -> MailSummary:
    """1 is the oldest; -1 the newest."""
    index = number - 1 if number > 0 else number
    if number == 0 or not -len(mails) <= index < len(mails):
        raise click.BadParameter(f"there are {len(mails)} mails; use 1..{len(mails)} or -1 for the newest")
    return mails[index]


@click.command("mail")
@click.option(
    "--open",
    "open_number",
    type=int,
    metavar="N",
    help="Print mail N of the list (1 = oldest, -1 = newest) with its links.",
)
@click.option("--html", is_flag=True, help="With --open: print the HTML part instead of the text.")
@click.option(
    "--state-dir",
    metavar="DIR",
    envvar="CFCD_STATE_DIR",
    help="Local cloud state directory (default: .cfcd); mail is kept in DIR/mail/*.eml.",
)
def mail_command(open_number: int | None, html: bool, state_dir: str | None) -> None:
    """List the emails the local cloud captured: number, date, subject and main link.

    Only the local cloud captures mail (`cfcd local up`); on AWS the mail goes to its recipients.
    """
    from cfcd.client.mail_links import approval_base_url, links, main_link
    from cfcd.local.mail import list_mail, read_mail  # stdlib and pydantic: no local cloud needed

    directory = state_dir_from(state_dir, os.environ)
    mails = list_mail(directory)
    base = approval_base_url(directory)
    if open_number is not None:
        if not mails:
            raise click.ClickException(f"no captured mail in {directory / 'mail'}")
        mail = _pick(mails, open_number)
        text, html_body = read_mail(mail.path)
        click.echo(
            f"Subject: {mail.subject}\nFrom: {mail.sender}\nTo: {', '.join(mail.to)}\nDate: {mail.date}"
        )
        click.echo(f"File: {mail.path}\n")
        click.echo((html_body if html else text) or "(no such part)")
        found = links(text, html_body)
        if found:
            click.echo("\nLinks:\n" + "\n".join(f"  {link}" for link in dict.fromkeys(found)))
        return
    if not mails:
        click.echo(f"No captured mail in {directory / 'mail'}.")
        return
    for number, mail in enumerate(mails, start=1):
        text, html_body = read_mail(mail.path)
        link = main_link(text, html_body, base)
        click.echo(f"{number:>3}  {mail.date}  {mail.subject}")
        if link:
            click.echo(f"     {link}")


def register(group: click.Group) -> None:
    group.add_command(mail_command)
