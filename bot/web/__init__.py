"""The officer dashboard (aiohttp + Jinja, server-rendered): bot/web/views.py has the pages,
bot/web/auth.py the logins."""
