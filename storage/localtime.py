"""Vietnam's time zone, the one the bot lives in: case codes are numbered by its year, due
times end at 17:00 in it, statistics count its months, dates are shown in it. Defined once,
here at the bottom of the layers, so every layer uses the same one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
