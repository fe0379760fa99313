# Stand-in for postgres:18-alpine where no registry can be reached: PostgreSQL from the
# Debian packages of BASE_IMAGE, driven by the same variables the official image reads
# (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE), data under /var/lib/postgresql.
# Built by `python -m lab docker images`; context: docker/standins.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \
    && ln -s /usr/lib/postgresql/*/bin/* /usr/local/bin/ \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres -m 0775 /var/run/postgresql

COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint

ENV PGDATA=/var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["sh", "/usr/local/bin/postgres-entrypoint"]
