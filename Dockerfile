# One image for every etstats service; the command picks which one runs:
#   docker run --env-file .env etstats python -m services.fetcher
# Nothing secret is built in: configuration comes from the environment at run time.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

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
# pg_dump for storage's backups. It must match the server's major version
# (PostgreSQL 16 in docker-compose.yml and k8s/), so it comes from PostgreSQL's
# own repository: Debian 12 ships only 15.
ARG PG_CLIENT_VERSION=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_VERSION}" \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 etstats \
    && useradd --system --uid 10001 --gid etstats --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin etstats \
    && install -d -o etstats -g etstats /app /var/lib/etstats/backups /etc/etstats
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    SOURCES_FILE=/etc/etstats/sources.yaml \
    BACKUP_DIR=/var/lib/etstats/backups \
    PG_DUMP=/usr/lib/postgresql/${PG_CLIENT_VERSION}/bin/pg_dump
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "services.common.healthcheck"]
CMD ["etstats", "--help"]
