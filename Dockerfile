# syntax=docker/dockerfile:1
#
# One image recipe for the five services of the 254Carbon Access Layer; SERVICE and PORT
# pick which (gateway 8000, streaming 8001, auth 8010, entitlements 8011, metrics 8012).
#
# Build context = the repository root (the uv workspace):
#   docker build --build-arg SERVICE=gateway --build-arg PORT=8000 \
#     -t ghcr.io/254carbon/gateway:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg SERVICE=gateway --build-arg PORT=8000 \
#     --build-arg ACCESS_COMMIT="$(git rev-parse --short HEAD)" --build-arg ACCESS_VERSION=0.1.0 \
#     -t ghcr.io/254carbon/gateway:0.1.0 --push .
#
# Stage "build" installs exactly what uv.lock pins for access-$SERVICE (and access_common)
# into /app/.venv; stage "runtime" is python:3.11-slim with only that venv, a non-root
# user and no compiler, uv or source tree.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ARG UV_VERSION=0.13.9
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install "uv==${UV_VERSION}"
WORKDIR /src
# The workspace root, the lock, the shared library and this service only: --frozen
# installs the locked versions and fails if uv.lock is out of date with pyproject.toml.
COPY pyproject.toml uv.lock ./
COPY shared/ shared/
COPY service-${SERVICE}/ service-${SERVICE}/
# --no-editable builds the workspace packages into the venv, so the runtime stage
# needs no source tree; bytecode is compiled here because the runtime root is read-only.
RUN uv sync --frozen --no-dev --no-editable --package access-${SERVICE} \
 && ln -s "access-${SERVICE}" /app/.venv/bin/access-service

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG PORT
ARG ACCESS_VERSION=0.1.0
ARG ACCESS_COMMIT=unknown
LABEL org.opencontainers.image.title="254carbon-access-${SERVICE}" \
      org.opencontainers.image.description="254Carbon Access Layer: the ${SERVICE} service" \
      org.opencontainers.image.version="${ACCESS_VERSION}" \
      org.opencontainers.image.revision="${ACCESS_COMMIT}"
# ACCESS_HOST=0.0.0.0: the settings default (127.0.0.1) is unreachable from outside the
# container. ACCESS_VERSION/ACCESS_COMMIT appear in GET /health (no git in the image).
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ACCESS_HOST=0.0.0.0 \
    ACCESS_PORT=${PORT} \
    ACCESS_STATE_DIR=/var/lib/access \
    ACCESS_VERSION=${ACCESS_VERSION} \
    ACCESS_COMMIT=${ACCESS_COMMIT}
RUN groupadd --system --gid 10001 access \
 && useradd --system --uid 10001 --gid access --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin access \
 && install -d -m 0700 -o 10001 -g 10001 /var/lib/access
COPY --from=build /app/.venv /app/.venv
WORKDIR /app
# Numeric, so Kubernetes runAsNonRoot can verify it.
USER 10001:10001
EXPOSE ${PORT}
# Liveness only (the process serves); readiness with dependencies is /health/ready.
# python:3.11-slim has no curl: the check uses the standard library (an exception exits 1).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ['ACCESS_PORT'], timeout=2)"]
# Exec form, no shell: the service is PID 1 and gets SIGTERM itself, so uvicorn drains
# (ACCESS_SHUTDOWN_GRACE_SECONDS) before the runtime's kill.
CMD ["access-service"]
