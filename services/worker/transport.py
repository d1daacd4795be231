"""The HTTP transport of webhook deliveries: connections only to checked addresses.

Its connection backend resolves the target name, refuses non-public
addresses (unless private targets are allowed) and connects to the very
address it checked, so DNS rebinding cannot slip past the check.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpcore
import httpx

from shared.net import TargetRefused, checked_addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself.

    httpcore asks the backend to connect to the URL's host name; TLS SNI and
    certificate checks still use that name, only the TCP connection goes to
    the address the SSRF check approved.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, allow_private=self._allow_private)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


Origin = tuple[bytes, bytes, int]

# httpcore's errors as httpx's, most specific first (httpx does the same
# mapping inside its own transport).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for raised, mapped in _ERRORS:
            if isinstance(exc, raised):
                raise mapped(str(exc)) from exc
        raise


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections go to SSRF-checked addresses.

    Connections are httpcore's, made through :class:`PinnedBackend`, and kept
    alive per origin (scheme, host, port): a request takes the most recently
    used idle connection of its origin, checking that one alone, so its cost
    does not grow with the number of connections kept. (httpcore's own pool
    checks every connection on every request, and httpx has no public way to
    give it a network backend.) How many requests run at once is bounded by
    the caller (:class:`WebhookSender`); at most ``max_idle_per_origin``
    idle connections are kept.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        keepalive_expiry: float = 30.0,
        max_idle_per_origin: int = 16,
    ) -> None:
        self._backend = PinnedBackend(allow_private=allow_private)
        self._ssl_context = httpx.create_ssl_context(trust_env=False)
        self._keepalive_expiry = keepalive_expiry
        self._max_idle = max_idle_per_origin
        self._idle: dict[Origin, list[httpcore.AsyncHTTPConnection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.raw_scheme == b"https" else 80)
        origin: Origin = (url.raw_scheme, url.raw_host, port)
        connection = await self._checkout(origin)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _httpx_errors():
                response = await connection.handle_async_request(core_request)
        except BaseException:
            await connection.aclose()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(self, origin, connection, response),
            extensions=response.extensions,
        )

    async def _checkout(self, origin: Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            # has_expired: past keep-alive, or the server closed it meanwhile.
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(
            origin=httpcore.Origin(*origin),
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._backend,
        )

    async def _checkin(self, origin: Origin, connection: httpcore.AsyncHTTPConnection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or not connection.is_idle() or len(idle) >= self._max_idle:
            await connection.aclose()
        else:
            idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    """A response body; closing it returns its connection, if still usable, to the pool."""

    def __init__(
        self,
        transport: PinnedTransport,
        origin: Origin,
        connection: httpcore.AsyncHTTPConnection,
        response: httpcore.Response,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection = connection
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._response.aiter_stream():
                yield part

    async def aclose(self) -> None:
        try:
            with _httpx_errors():
                await self._response.aclose()
        finally:
            # A body closed before its end leaves the connection closed by httpcore.
            await self._transport._checkin(self._origin, self._connection)
