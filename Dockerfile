# syntax=docker/dockerfile:1
# aftershock: scheduled, guarded chaos for Kubernetes. Multi-stage: wheels are built in the
# first stage; the runtime stage has no compiler, runs as a numeric non-root user and
# works with a read-only root filesystem (it writes only to /var/lib/aftershock and /tmp).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY daemon ./daemon
RUN python -m pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aftershock" \
      org.opencontainers.image.description="Scheduled, guarded chaos for Kubernetes with Chaos Toolkit experiments" \
      org.opencontainers.image.version="${VERSION}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AFTERSHOCK_STORE__PATH=/var/lib/aftershock/history.db \
    AFTERSHOCK_CATALOG__PATH=/etc/aftershock/experiments
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links=/wheels "aftershock==${VERSION}" \
    && rm -rf /wheels \
    && mkdir -p /var/lib/aftershock /etc/aftershock/experiments \
    && chown 65532:65532 /var/lib/aftershock
USER 65532:65532
VOLUME ["/var/lib/aftershock"]
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["aftershock"]
CMD ["serve"]
