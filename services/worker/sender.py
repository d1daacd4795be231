"""Sending one delivery: the process's pooled client and the signed headers.

One pooled ``httpx.AsyncClient`` per process (:class:`WebhookSender`) over
:class:`services.worker.transport.PinnedTransport`: redirects not followed (a
redirect is a failure), no proxies from the environment, every failure an
:class:`~shared.webhooks.attempts.Outcome`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx

from services.worker.transport import PinnedTransport
from shared.net import TargetRefused, TargetUnresolvable
from shared.secret_box import SecretBox
from shared.settings import Settings
from shared.webhooks.attempts import Outcome
from shared.webhooks.deliveries import Claim
from shared.webhooks.endpoints import open_secrets
from shared.webhooks.rules import delivery_headers, signing_secrets, truncate_response_body

_ERROR_LIMIT = 1000


def headers_for(claim: Claim, box: SecretBox, now: dt.datetime) -> dict[str, str]:
    """Signed headers of one attempt (a fresh timestamp each time, same webhook-id)."""
    current, previous = open_secrets(
        box,
        endpoint_id=claim.endpoint_id,
        sealed=claim.secret_sealed,
        previous_sealed=claim.previous_secret_sealed,
    )
    return delivery_headers(
        signing_secrets(current, previous, claim.previous_secret_valid_until, now),
        message_id=str(claim.event_id),
        timestamp=int(now.timestamp()),
        body=claim.body,
    )


class WebhookSender:
    """The process's one pooled HTTP client for deliveries."""

    def __init__(self, settings: Settings, *, max_connections: int = 16) -> None:
        self.settings = settings
        # The transport opens a connection for each request running at once:
        # this bounds both.
        self._slots = asyncio.Semaphore(max_connections)
        self.box = SecretBox.from_settings(settings)
        self.client = httpx.AsyncClient(
            transport=PinnedTransport(
                allow_private=settings.webhook_allow_private_targets,
                max_idle_per_origin=max_connections,
            ),
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": "Accords-Webhooks/1.0"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, url: str, *, headers: dict[str, str], body: str) -> Outcome:
        """POST one delivery; every failure (refusal, network, timeout) is an Outcome."""
        async with self._slots:
            started = time.perf_counter()
            return await self._send(url, headers=headers, body=body, started=started)

    async def _send(
        self, url: str, *, headers: dict[str, str], body: str, started: float
    ) -> Outcome:
        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            # The whole exchange is bounded, not only each read: a receiver
            # trickling its answer cannot hold a connection past the timeout.
            async with (
                asyncio.timeout(self.settings.webhook_timeout_seconds),
                self.client.stream(
                    "POST", url, headers=headers, content=body.encode("utf-8")
                ) as response,
            ):
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= 2048:
                        break
                error = None
                if response.is_redirect:
                    error = f"redirect to {response.headers.get('location', '?')} not followed"
                return Outcome(
                    status_code=response.status_code,
                    duration_ms=elapsed(),
                    error=error,
                    response_body=truncate_response_body(received),
                    retry_after=response.headers.get("retry-after"),
                )
        except TargetRefused as exc:
            return Outcome(None, elapsed(), error=f"refused: {exc}"[:_ERROR_LIMIT])
        except TargetUnresolvable as exc:
            return Outcome(None, elapsed(), error=str(exc)[:_ERROR_LIMIT])
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(
                None, elapsed(), error=f"timed out after {self.settings.webhook_timeout_seconds} s"
            )
        except httpx.HTTPError as exc:
            return Outcome(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT])


__all__ = ["Outcome", "WebhookSender", "headers_for"]
