"""Request limits: body size (refused before the body is read) and a token bucket per caller."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facesift.serve.problems import PROBLEM_JSON


class BodySizeLimit:
    """ASGI middleware: a request declaring more than ``limit`` bytes is answered 413 at once,
    without reading its body; one that sends more than it declared (or declares nothing, as
    chunked uploads do) is cut off as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and
                    # becomes a 413 problem (serve/problems.py).
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return (
            f"request body is over the limit of {self.limit:,} bytes "
            "(FACESIFT_API_MAX_REQUEST_BYTES); send fewer or smaller files per request"
        )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:facesift:problem:request-too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": self._detail(),
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """A token bucket per caller: ``per_minute`` requests a minute on average, bursts of
    ``burst``. ``take`` returns 0 when a request may go ahead, else the seconds to wait."""

    def __init__(self, per_minute: int, burst: int | None = None, clock=time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 10))
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> int:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(self.burst, now)
                if len(self._buckets) > 100_000:  # forget idle callers rather than grow forever
                    self._forget_full(now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def waiting(self, caller: str) -> int:
        """Seconds until ``caller`` may go ahead, without taking a token (0: now)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                return 0
            tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))

    def _forget_full(self, now: float) -> None:
        for caller in [
            c
            for c, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]:
            del self._buckets[caller]
