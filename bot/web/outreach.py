"""The dashboard's outreach links, /officer/outreach: the links an officer may see (their
union's and those below it; admins: all) with the workers each brought, the form to make one
for a workplace, a ward or a campaign, a link's page (its addresses, its poster as PDF and
PNG, its funnel by month), and turning a link off.

Links are made by bot/services/outreach.py, posters drawn by bot/services/posters.py, the
funnel counted by bot/services/funnel.py. A link out of the officer's reach is answered like
one that does not exist. Every count on these pages is of people who came through the
officer's own links, and of requests the officer may open: exact, like the statistics page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.services import funnel, outreach, posters
from bot.services.i18n import N_, _
from bot.services.outreach import OutreachError
from bot.services.text import whole_number
from bot.web.pages import SECURITY_HEADERS, Page, redirect
from storage import outreach as stored
from storage import unions
from storage.models import OutreachLink, Union, Ward, Workplace

log = logging.getLogger(__name__)

DONE = {
    "created": N_("The link is ready. Print its poster, or share its addresses."),
    "off": N_("The link is off: its code no longer brings anyone in."),
}
STEP_NAMES = {
    "arrival": N_("Arrived"),
    "question": N_("Asked a question"),
    "interest": N_("Registered interest"),
    "contacted": N_("Contacted by an officer"),
    "admitted": N_("Admitted"),
}
FORMATS = {"pdf": "application/pdf", "png": "image/png"}
ZALO = N_("Zalo (send the code)")
NOT_DRAWN = N_(
    "The poster cannot be drawn: the union's name, the link's name or its addresses do not "
    "fit on it or have characters its font lacks. The server's log says which."
)


async def _reach(current: Page) -> frozenset[int] | None:
    return (await current.scope()).unions


async def _link(current: Page) -> OutreachLink | None:
    """The link of the URL, if it exists and is within the officer's reach."""
    link_id = whole_number(current.request.match_info.get("id"))
    link = await stored.get(current.session, link_id) if link_id is not None else None
    reach = await _reach(current)
    if link is None or (reach is not None and link.union_id not in reach):
        return None
    return link


@dataclass(frozen=True, slots=True)
class Offered:
    """What the form offers: unions within reach, their workplaces and wards."""

    unions: list[tuple[int, str]]
    workplaces: list[tuple[int, str]]
    wards: list[tuple[int, str]]


async def _offered(current: Page) -> Offered:
    reach = await _reach(current)
    every = (await current.session.scalars(unions.all_unions_query())).all()
    allowed = [(u.id, u.name) for u in every if reach is None or u.id in reach]
    workplaces, wards = await unions.places(current.session, reach)
    return Offered(allowed, workplaces, wards)


async def list_page(current: Page, *, error: str | None = None, status: int = 200) -> web.Response:
    """GET /officer/outreach: the links, newest first, and the form for a new one."""
    session = current.session
    links = await stored.listed(session, await _reach(current))
    arrived = await stored.arrivals(session, [link.id for link in links])
    names = await _names(current, links)
    rows = [
        {"link": link, "arrived": arrived.get(link.id, 0), "where": names.get(link.id, "")}
        for link in links
    ]
    return current.render(
        "outreach.html", rows=rows, offered=await _offered(current), error=error,
        status=status, form=current.form,
    )  # fmt: skip


async def _names(current: Page, links: Sequence[OutreachLink]) -> dict[int, str]:
    """Each link's union, and its workplace or ward, on one line."""
    session, found = current.session, {}
    for link in links:
        union = await session.get(Union, link.union_id)  # a few: the session keeps them
        parts = [union.name if union else f"#{link.union_id}"]
        if link.workplace_id and (place := await session.get(Workplace, link.workplace_id)):
            parts.append(place.name)
        if link.ward_id and (ward := await session.get(Ward, link.ward_id)):
            parts.append(ward.name)
        found[link.id] = " · ".join(parts)
    return found


async def create(current: Page) -> web.StreamResponse:
    """POST /officer/outreach: make a link; what is wrong is said above the form."""
    form, offered = current.form, await _offered(current)
    union = whole_number(form.get("union"))
    workplace = whole_number(form.get("workplace")) if form.get("workplace") else None
    ward = whole_number(form.get("ward")) if form.get("ward") else None
    try:
        if union not in {i for i, _name in offered.unions}:
            raise OutreachError(N_("Choose the union from the list."))
        if form.get("workplace") and workplace not in {i for i, _n in offered.workplaces}:
            raise OutreachError(N_("Choose the workplace from the list."))
        if form.get("ward") and ward not in {i for i, _n in offered.wards}:
            raise OutreachError(N_("Choose the ward from the list."))
        assert current.login is not None and union is not None
        link = await outreach.create(
            current.session, current.login.officer, union_id=union,
            label=str(form.get("label", "")), now=current.now, workplace_id=workplace,
            ward_id=ward, fonts=current.services.settings.content_dir / "fonts",
        )  # fmt: skip
    except OutreachError as problem:
        current.work.discard()
        return await list_page(current, error=_(str(problem)), status=400)
    return redirect(f"/officer/outreach/{link.id}?done=created")


async def link_page(current: Page) -> web.StreamResponse:
    """GET /officer/outreach/{id}: the link's addresses, poster and funnel."""
    link = await _link(current)
    if link is None:
        return current.refuse(404, _("There is no such link."))
    funnels = await funnel.by_link(current.session, [link.id], (await current.scope()).visible())
    done = DONE.get(str(current.request.query.get("done", "")))
    return current.render(
        "outreach_link.html", link=link, where=(await _names(current, [link]))[link.id],
        addresses=outreach.addresses(current.services.settings, link.code),
        funnel=funnels[link.id], steps=STEP_NAMES, done=_(done) if done else None,
    )  # fmt: skip


async def poster(current: Page) -> web.StreamResponse:
    """GET /officer/outreach/{id}/poster.{pdf|png}: the printable A4 poster."""
    link = await _link(current)
    kind = current.request.match_info.get("format", "")
    if link is None or kind not in FORMATS:
        return current.refuse(404, _("There is no such link."))
    settings = current.services.settings
    found = outreach.addresses(settings, link.code)
    if found.qr is None:
        return current.refuse(409, _(NO_ADDRESS))
    union = await current.session.get(Union, link.union_id)
    language = settings.default_language
    with current.services.catalogs.activate(language):
        # Zalo's link opens the union's account, not the code: the worker sends it there.
        links = tuple((_(ZALO) if name == "Zalo" else name, url) for name, url in found.listed())
        drawn = posters.Poster(
            union=union.name if union else "", label=link.label, qr_url=found.qr,
            code=link.code, links=links, language=language,
        )  # fmt: skip
        render = posters.pdf if kind == "pdf" else posters.png
        try:
            body = render(drawn, settings.content_dir / "fonts")
        except posters.PosterError as problem:
            log.error("poster of link %s not drawn: %s", link.id, problem)
            return current.refuse(409, _(NOT_DRAWN))
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="poster-{link.code}.{kind}"',
    }
    return web.Response(body=body, content_type=FORMATS[kind], headers=headers)


NO_ADDRESS = N_(
    "The bot has no public address yet: set PUBLIC_URL (the web chat) or "
    "TELEGRAM_BOT_USERNAME (Telegram) so that the poster's QR code leads somewhere."
)


async def switch_off(current: Page) -> web.StreamResponse:
    """POST /officer/outreach/{id}/off: the code stops bringing anyone in (counts stay)."""
    link = await _link(current)
    if link is None:
        current.work.discard()
        return current.refuse(404, _("There is no such link."))
    link.active = False
    return redirect(f"/officer/outreach/{link.id}?done=off")
