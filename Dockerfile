# syntax=docker/dockerfile:1
# aftershock: scheduled, guarded chaos for Kubernetes. Multi-stage: the first stage installs
# exactly the runtime part of uv.lock (hashes checked, no test or dev group) into a virtual
# environment; the runtime stage copies it, has no compiler, runs as a numeric non-root user
# and works with a read-only root filesystem (it writes only to /var/lib/aftershock and /tmp).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/aftershock
# The lock tool first, at the version and with the hashes the lock records for it.
COPY uv.lock ./
COPY scripts/pin_from_lock.py ./scripts/
RUN python scripts/pin_from_lock.py uv > /tmp/uv.txt \
    && python -m pip install --no-cache-dir --no-deps --only-binary :all: --require-hashes -r /tmp/uv.txt
# Runtime dependencies exactly as locked (a layer of their own), then aftershock itself.
COPY pyproject.toml README.md ./
RUN uv sync --locked --no-default-groups --no-install-project
COPY daemon ./daemon
RUN uv sync --locked --no-default-groups --no-editable

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aftershock" \
      org.opencontainers.image.description="Scheduled, guarded chaos for Kubernetes with Chaos Toolkit experiments" \
      org.opencontainers.image.version="${VERSION}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/aftershock/bin:$PATH \
    AFTERSHOCK_STORE__PATH=/var/lib/aftershock/history.db \
    AFTERSHOCK_CATALOG__PATH=/etc/aftershock/experiments
COPY --from=build /opt/aftershock /opt/aftershock
RUN mkdir -p /var/lib/aftershock /etc/aftershock/experiments \
    && chown 65532:65532 /var/lib/aftershock
USER 65532:65532
VOLUME ["/var/lib/aftershock"]
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["aftershock"]
CMD ["serve"]
