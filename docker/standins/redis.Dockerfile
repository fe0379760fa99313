# Stand-in for redis:7-alpine where no registry can be reached: redis-server and redis-cli
# from the Debian packages of BASE_IMAGE, data in /data as in the official image.
# Built by `python -m lab docker images`; context: docker/standins.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \
    && install -d -o redis -g redis -m 0750 /data

WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
