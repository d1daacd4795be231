# syntax=docker/dockerfile:1
#
# One image for every Accords process: the API (default command), the worker
# (`accords worker`) and the one-shot schema upgrade (`accords migrate`).
#
#   docker build -t accords .
#   docker run --rm -p 8000:8000 -e ACCORDS_DATABASE_URL=... accords

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a self-contained virtualenv in /opt/venv -------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a source-only change
# reuses this layer. There is no lock file: pip resolves the ranges declared
# in pyproject.toml. Empty packages stand in for the real ones (hatchling
# refuses to build a wheel whose declared packages are missing).
COPY pyproject.toml README.md ./
# hadolint ignore=DL3013
RUN mkdir -p services shared migrations \
    && touch services/__init__.py shared/__init__.py migrations/__init__.py \
    && pip install --upgrade pip \
    && pip install . \
    && pip uninstall --yes accords \
    && rm -rf services shared migrations

# Then the project itself, without touching the dependencies again.
COPY services ./services
COPY shared ./shared
COPY migrations ./migrations
RUN pip install --no-deps . \
    && accords --help > /dev/null

# --- runtime -----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACCORDS_LOG_FORMAT=json

RUN groupadd --system --gid 10001 accords \
    && useradd --system --uid 10001 --gid accords --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin accords

COPY --from=build /opt/venv /opt/venv

# The working directory holds only var/, where the embedded SQLite default
# would live; production points ACCORDS_DATABASE_URL at PostgreSQL instead.
WORKDIR /app
RUN mkdir -p /app/var && chown -R accords:accords /app

# Numeric, so runtimes can verify it is not root (Kubernetes runAsNonRoot).
USER 10001:10001

EXPOSE 8000

# slim has no curl: probe with the standard library. HEALTHCHECK_URL lets a
# container that serves on another port keep a meaningful check; containers
# that serve no HTTP (worker, migrate) disable it in docker-compose.yml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:8000/healthz'); sys.exit(0 if urllib.request.urlopen(url, timeout=3).status == 200 else 1)"]

CMD ["accords", "serve", "--host", "0.0.0.0", "--port", "8000"]
