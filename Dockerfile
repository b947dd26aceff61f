# syntax=docker/dockerfile:1
# RedFire backend image: `redfire serve` (uvicorn) as uid 1000 on a read-only-friendly layout.
#
#   docker build -t redfire/backend:0.1.0 .
#   docker run --rm -e SECRET_KEY=... -e DATABASE_URL=... redfire/backend:0.1.0 redfire migrate
#   docker run --rm -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=... redfire/backend:0.1.0
#
# vnpy is installed without its Qt desktop stack (docker/install_runtime.py); the same
# install is exercised outside Docker by scripts/slim_install_check.py (`make slim-check`).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv

WORKDIR /app

# Third-party dependencies first: this layer survives code changes.
COPY pyproject.toml README.md ./
COPY docker/ docker/
RUN /opt/venv/bin/python docker/install_runtime.py deps --project /app

# Then RedFire itself, and a check that vnpy's core imports, Qt is absent and a CTA strategy
# backtests.
COPY alembic.ini ./
COPY migrations/ migrations/
COPY backend/ backend/
RUN /opt/venv/bin/python docker/install_runtime.py app --project /app \
    && HOME=/tmp /opt/venv/bin/python docker/install_runtime.py check \
    && /opt/venv/bin/python -m compileall -q backend migrations \
    && rm -rf /tmp/.vntrader

# ---------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="redfire-backend" \
      org.opencontainers.image.description="RedFire async trading backend (FastAPI + vnpy)" \
      org.opencontainers.image.licenses="MIT"

# HOME is where vnpy creates its .vntrader folder (settings, logs): the only path the app
# writes besides /tmp. Kubernetes mounts emptyDirs on both; everything else can be read-only.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/var/lib/redfire \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --gid 1000 redfire \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /var/lib/redfire \
       --shell /usr/sbin/nologin redfire \
    && mkdir -p /var/lib/redfire/.vntrader \
    && chown -R 1000:1000 /var/lib/redfire

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

WORKDIR /app
USER 1000:1000
VOLUME ["/var/lib/redfire"]
EXPOSE 8000

# Liveness only (process answers); readiness (/health/ready) is the orchestrator's business.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]

# `redfire serve` runs uvicorn with what the settings decide: the WebSocket frame limit
# (STREAM__WS_MAX_MESSAGE_BYTES), proxy headers believed only from SECURITY__TRUSTED_PROXIES
# (k8s/configmap.yaml sets the cluster range), and JSON logs with secrets redacted.
# The app's shutdown hooks run after uvicorn's graceful drain; k8s allows 60 s for both.
CMD ["redfire", "serve", "--timeout-graceful-shutdown", "15"]
