"""Rate limits per api key, shared by every API process.

A fixed one-minute window per key: each request adds one to the counter of
(key, current minute) and learns the new count in the same round trip. The
counter lives in Redis when one is configured (``ACCORDS_REDIS_URL``, or a
``redis://`` broker), otherwise in the database (``rate_limit_counters``,
UNLOGGED on PostgreSQL), so several processes share one budget either way.

The bucket is the SHA-256 of the presented key, so counting needs no key
lookup and runs before the request touches its own transaction (on SQLite,
which serialises writers, that order matters). Unknown keys are counted too,
which slows down guessing.

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi
ratelimit-headers draft, structured-field syntax); a request over the limit
gets a 429 problem with ``Retry-After``. If the counter store fails, requests
are let through and the failure is logged: the limiter protects the service,
it must not take it down.

- :mod:`.stores`: where the counts live (database, near-limit-exact, Redis).
- :mod:`.limiter`: windows, the decision and its headers, choosing a store.
- :mod:`.middleware`: the ASGI middleware and the OpenAPI declaration of 429.
"""
