#!/bin/sh
# Container entrypoint: run one authscale program, chosen by the first argument.
#
#   service|balancer|loadgen|lab [ARGS...]   python -m <program> ARGS...
#   anything else                            executed as given (a shell, a one-off command)
#
# Docker secrets arrive as files, while the programs read their settings from the
# environment; for the variables below, NAME_FILE=/path sets NAME to the file's contents.
set -eu

for name in DATABASE_URL REDIS_URL BALANCER_ADMIN_TOKEN AUTH_JWT_SECRET; do
    eval "path=\${${name}_FILE:-}"
    [ -n "$path" ] || continue
    eval "current=\${${name}:-}"
    if [ -n "$current" ]; then
        echo "authscale-entrypoint: both $name and ${name}_FILE are set; set only one" >&2
        exit 64
    fi
    if [ ! -r "$path" ]; then
        echo "authscale-entrypoint: ${name}_FILE=$path is not a readable file" >&2
        exit 66
    fi
    # $(...) drops trailing newlines, which `docker secret create` input usually ends with.
    value=$(cat "$path")
    export "$name=$value"
    unset "${name}_FILE"
done

# Docker sets HOSTNAME to the container's short id: a name that tells replicas apart in
# the JSON logs when nothing better (a Swarm task name) is given.
if [ -z "${AUTH_INSTANCE_ID:-}" ] && [ -n "${HOSTNAME:-}" ]; then
    export AUTH_INSTANCE_ID="$HOSTNAME"
fi

if [ "$#" -eq 0 ]; then
    echo "usage: authscale-entrypoint service|balancer|loadgen|lab [ARGS...]" >&2
    exit 64
fi

case "$1" in
    service | balancer | loadgen | lab)
        program=$1
        shift
        exec python -m "$program" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
