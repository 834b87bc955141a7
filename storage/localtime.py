"""Vietnam's time zone, the one the bot lives in: case codes are numbered by its year, due
times end at 17:00 in it, statistics count its months, dates are shown in it. Defined once,
here at the bottom of the layers, so every layer uses the same one."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")


# Rows a database reader could match to an anonymous case by time (who was active when it
# was filed) keep their time only to the day or the hour: see storage/people.py,
# conversations.py, outbox.py and cases.py.
def start_of_day(moment: datetime) -> datetime:
    """Midnight of the moment's local day, in the moment's time zone."""
    local = moment.astimezone(LOCAL_TIME)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(moment.tzinfo)


def start_of_hour(moment: datetime) -> datetime:
    """The moment's hour (Vietnam's offset is whole hours, so local and UTC agree)."""
    return moment.replace(minute=0, second=0, microsecond=0)


def window_end(now: datetime, hours: tuple[time, time]) -> datetime | None:
    """When the daily local window `hours` (start, end; possibly over midnight) ends, if
    `now` is inside it; None outside. Broadcasts' quiet hours, and Zalo's closed hours for
    promotion messages, are such windows."""
    start, end = hours
    local = now.astimezone(LOCAL_TIME)
    at = local.time()
    inside = start <= at < end if start < end else (at >= start or at < end)
    if not inside:
        return None
    ending = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ending <= local:
        ending += timedelta(days=1)
    return ending.astimezone(now.tzinfo)
