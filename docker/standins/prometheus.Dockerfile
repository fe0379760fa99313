# Stand-in for prom/prometheus where no registry can be reached: the Prometheus server from
# the Debian packages of BASE_IMAGE, run as "nobody" with its data in /prometheus like the
# official image, plus wget for the stack's healthcheck.
# Built by `python -m lab docker images`; context: docker/standins.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \
    && install -d -o nobody -g nogroup -m 0755 /prometheus /etc/prometheus

WORKDIR /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
