"""python-telegram-bot's HTTP backend over the app's shared aiohttp ClientSession.

PTB's default backend is httpx; routing its Bot API calls through the aiohttp session the
app already holds saves a second connection pool and is several times faster under load
(DESIGN.md, performance notes). This class only moves bytes: the Bot API's wire format
stays in PTB and bot/channels/telegram.py.
"""

from __future__ import annotations

import json

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

PLAIN_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}
JSON_HEADERS = {**PLAIN_HEADERS, "Content-Type": "application/json"}
# How long one Bot API call may take to connect, to send its body and to wait for the answer
# (PTB's own defaults); read when a backend is made, so a test can shorten them.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """A BaseRequest that sends through an aiohttp ClientSession it does not own."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        media_write_timeout: float | None = None,
    ) -> None:
        self._session = session
        self._connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        self._read_timeout = READ_TIMEOUT if read_timeout is None else read_timeout
        self._write_timeout = WRITE_TIMEOUT if write_timeout is None else write_timeout
        self._media_write_timeout = (
            MEDIA_WRITE_TIMEOUT if media_write_timeout is None else media_write_timeout
        )

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """The session belongs to the app, which opens it."""

    async def shutdown(self) -> None:
        """The session belongs to the app, which closes it."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        write_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        files = request_data.multipart_data if request_data else None
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, None)
        # aiohttp has no separate write timeout: the request may take write + read in all.
        total = None if read is None or write is None else read + write + (connect or 0)
        timeout = aiohttp.ClientTimeout(
            total=total, connect=pool, sock_connect=connect, sock_read=read
        )
        data: aiohttp.FormData | bytes | None = None
        headers = PLAIN_HEADERS
        if files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():  # type: ignore[union-attr]
                if name not in files:
                    form.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data = form
        elif request_data is not None:
            # A JSON body with nested objects, one of the Bot API's documented encodings;
            # cheaper than percent-encoding a form whose keyboards are JSON strings.
            data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            headers = JSON_HEADERS
        try:
            async with self._session.request(
                method, url, data=data, timeout=timeout, headers=headers
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _given(value: float | object | None, default: float | None) -> float | None:
    if isinstance(value, BaseRequest.DEFAULT_NONE.__class__):
        return default
    return value  # type: ignore[return-value]
