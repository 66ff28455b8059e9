# One image for every etstats service; the command picks which one runs:
#   docker run --env-file .env etstats python -m services.fetcher
# Nothing secret is built in: configuration comes from the environment at run time.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The PostgreSQL image the stack runs (docker-compose.yml, k8s/): pg_dump and
# pg_restore come from it, so they match the server's major version without an
# apt repository beyond the base image's (Debian 12 ships only PostgreSQL 15).
ARG POSTGRES_IMAGE=postgres:16.10-bookworm

# --- pg: pg_dump and pg_restore, with the libraries they load -------------------
FROM ${POSTGRES_IMAGE} AS pg
# glibc is left out: both images are Debian 12 and share it. Each tool gets a
# wrapper that points it, and only it, at its own libraries.
RUN set -eu; \
    mkdir -p /pg/bin /pg/libexec /pg/lib; \
    for tool in pg_dump pg_restore; do \
        real="$(ls /usr/lib/postgresql/*/bin/$tool | sort -V | tail -n 1)"; \
        cp "$real" /pg/libexec/; \
        ldd "$real" | awk '$3 ~ /^\// { print $3 }' \
            | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' \
            | xargs -r cp -L -t /pg/lib/; \
        printf '#!/bin/sh\nLD_LIBRARY_PATH=/opt/pg/lib exec /opt/pg/libexec/%s "$@"\n' "$tool" \
            > "/pg/bin/$tool"; \
        chmod 0755 "/pg/bin/$tool"; \
    done; \
    LD_LIBRARY_PATH=/pg/lib /pg/libexec/pg_dump --version

# --- build: the package and its pinned dependencies in a virtualenv ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY etstats etstats
COPY services services
COPY etstats_cli etstats_cli
RUN /opt/venv/bin/pip install -c constraints.txt . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# --- runtime -------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# pg_dump for storage's backups, pg_restore for restoring them (README).
COPY --from=pg /pg/ /opt/pg/
RUN groupadd --system --gid 10001 etstats \
    && useradd --system --uid 10001 --gid etstats --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin etstats \
    && install -d -o etstats -g etstats /app /var/lib/etstats/backups /etc/etstats
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
ENV PATH=/opt/venv/bin:/opt/pg/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    SOURCES_FILE=/etc/etstats/sources.yaml \
    BACKUP_DIR=/var/lib/etstats/backups \
    PG_DUMP=/opt/pg/bin/pg_dump
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "services.common.healthcheck"]
CMD ["etstats", "--help"]
