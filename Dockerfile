# linkcheck as a long-running service: `docker run -v citations:/data IMAGE` with /data/sources.toml.
# EXTRAS=postgresql for a PostgreSQL history and workers (examples/compose-cluster.yaml). This
# project from its own folder: DL3013 (pin versions) does not apply; its dependencies are pinned in pyproject.toml.
ARG EXTRAS=""

# The wheels, built where a C compiler is (linkcheck's text walk is compiled), then installed
# into an image without one.
FROM python:3.12-slim AS build
ARG EXTRAS
WORKDIR /src
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY linkcheck ./linkcheck
# hadolint ignore=DL3013
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".${EXTRAS:+[$EXTRAS]}"

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
ARG EXTRAS
WORKDIR /opt/linkcheck
# The wheels are mounted, not copied: a COPY would stay in the image as a layer of its own.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "linkcheck-citations${EXTRAS:+[$EXTRAS]}" \
    && useradd --create-home --uid 10001 --user-group linkcheck \
    && mkdir /data && chown linkcheck:linkcheck /data

# State (linkcheck.db, snapshots/, reports/) lives beside the config, in the volume.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

# `status` exits 1 when the last pass is overdue by two intervals: a stuck daemon turns unhealthy.
HEALTHCHECK --interval=5m --timeout=30s --start-period=15m \
    CMD ["linkcheck", "status", "--config", "/data/sources.toml"]

ENTRYPOINT ["linkcheck"]
CMD ["daemon", "--config", "/data/sources.toml", "--log-format", "json"]
