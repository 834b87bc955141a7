"""The officer dashboard's whole URL map, on one screen."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.web import admin, auth, broadcasts, outreach, polls, questions, statistics, views
from bot.web.pages import page


def setup(app: web.Application) -> None:
    """Register the dashboard under /officer."""
    app[auth.ADDRESSES] = auth.Addresses()
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/officer", page(views.home))
    add_get("/officer/", page(views.home))
    add_get("/officer/login", page(views.login_page, login=False))
    add_post("/officer/login", page(views.login_submit, login=False))
    add_post("/officer/logout", page(views.logout, post=True))
    # Cases
    add_get("/officer/queue", page(views.queue))
    add_post("/officer/queue/bulk", page(views.bulk, post=True))
    add_get("/officer/export.csv", page(views.export))
    add_get("/officer/case/{code}", page(views.case_page))
    add_get("/officer/case/{code}/file/{file}", page(views.case_file))
    add_post("/officer/case/{code}/{action}", page(views.case_action, post=True))
    # Statistics; the questions the bot could not answer, to teach it
    add_get("/officer/stats", page(statistics.stats))
    add_get("/officer/questions", page(questions.questions_page))
    add_post("/officer/questions/{id}/teach", page(questions.questions_teach, post=True))
    # Broadcasts: compose ("new" before the ids), follow, report; a poll's results as CSV
    add_get("/officer/broadcasts", page(broadcasts.list_page))
    add_get("/officer/broadcasts/new", page(broadcasts.compose_form))
    add_post("/officer/broadcasts/new", page(broadcasts.compose_submit, post=True))
    add_get("/officer/broadcasts/{id}", page(broadcasts.broadcast_page))
    add_get("/officer/broadcasts/{id}/progress.json", page(broadcasts.progress_json))
    add_get("/officer/broadcasts/{id}/report", page(broadcasts.report_page))
    add_get("/officer/broadcasts/{id}/image.jpg", page(broadcasts.image))
    add_get("/officer/broadcasts/{id}/poll.csv", page(polls.export))
    add_get("/officer/broadcasts/{id}/poll.json", page(polls.live))
    add_post("/officer/broadcasts/{id}/{action}", page(broadcasts.broadcast_action, post=True))
    # Outreach links: make one, its poster, its funnel; switch it off
    add_get("/officer/outreach", page(outreach.list_page))
    add_post("/officer/outreach", page(outreach.create, post=True))
    add_get("/officer/outreach/{id}", page(outreach.link_page))
    add_get("/officer/outreach/{id}/poster.{format}", page(outreach.poster))
    add_post("/officer/outreach/{id}/off", page(outreach.switch_off, post=True))
    administration(app)
    app.router.add_static("/officer/static", Path(__file__).parent / "static")


def administration(app: web.Application) -> None:
    """The admins' pages: canned replies, officers, officers' groups."""
    add_get, add_post = app.router.add_get, app.router.add_post
    add_get("/officer/replies", page(admin.replies_page))
    add_post("/officer/replies", page(admin.replies_change, post=True))
    add_post("/officer/replies/{id}", page(admin.replies_change, post=True))
    add_post("/officer/replies/{id}/delete", page(admin.replies_change, post=True))
    add_get("/officer/officers", page(admin.officers_list))
    add_post("/officer/officers", page(admin.officers_add, post=True))
    add_post("/officer/officers/{id}/invite", page(admin.officers_invite, post=True))
    add_post("/officer/officers/{id}/deactivate", page(admin.officers_deactivate, post=True))
    add_post("/officer/officers/{id}/password", page(admin.officers_password, post=True))
    add_post("/officer/officers/{id}/unlink", page(admin.officers_unlink, post=True))
    add_post("/officer/groups", page(admin.groups_add, post=True))
    add_post("/officer/groups/{id}/delete", page(admin.groups_remove, post=True))
