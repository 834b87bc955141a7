"""The attachments step of the grievance and support forms: photos, voice messages, PDFs.

A file is checked as it arrives (kind, declared size, how many) and recorded as evidence
(storage/evidence.py); the worker is answered at once, and the file is fetched and scrubbed
in the background (bot/fetcher.py, bot/services/scrubber.py). When the form is sent, its
files go to the case it opens (handlers/intake.py).
"""

from __future__ import annotations

from bot.services import scrubber
from bot.services.i18n import N_, _
from bot.services.labels import Choice
from handlers.forms import Field, Invalid
from handlers.types import Attachment, Context
from storage import evidence

MOST = 5
DONE = Choice("done", N_("Done, continue"))


async def collect(ctx: Context, attachment: Attachment) -> int:
    """Record one file the worker sent; Invalid with a clear reason when it cannot be used."""
    if attachment.reference is None or not scrubber.accepts(attachment.kind, attachment.mime):
        raise Invalid(
            _(
                "I can only take photos, voice messages and PDF files. For anything else, "
                "describe it in your own words; an officer can ask you for it later."
            )
        )
    if attachment.size is not None and attachment.size > scrubber.MAX_BYTES:
        raise Invalid(
            _("That file is too large (at most {mb} MB). Send a photo of it instead.").format(
                mb=scrubber.MAX_BYTES // (1024 * 1024)
            )
        )
    row = evidence.receive(
        ctx.session,
        channel=ctx.address.channel,
        reference=attachment.reference,
        kind=attachment.kind,
        mime=attachment.mime,
        size=attachment.size,
        now=ctx.now,
    )
    await ctx.session.flush()
    return row.id


def field(prompt: str) -> Field:
    """The evidence step, asking with `prompt` (a msgid)."""
    return Field("evidence", prompt, choices=(DONE,), collect=collect, most=MOST, label=N_("Files"))


def attached_line(count: int) -> str | None:
    """What the worker is told about their files, if they sent any."""
    if not count:
        return None
    return _("{count} file(s) attached; hidden data such as location is removed.").format(
        count=count
    )
