# The pipeline CLI alone (`deno task pipeline …`), for the compose service `producer`.
#
# Build context: the repository root (see .dockerignore).
#   docker build -f docker/pipeline.Dockerfile -t velib-pipeline:local .
#   docker run --rm -e KAFKA_BROKERS=… velib-pipeline:local deno task pipeline stream ingest

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION}

# On `docker stop`, the image's init (tini) passes SIGTERM to `deno task`, which passes it to the
# pipeline and waits for it: the pipeline stops gracefully and exits 143. Don't make tini signal
# the whole process group (TINI_KILL_PROCESS_GROUP): the pipeline would get SIGTERM twice, and a
# second signal means "exit now, without closing".
ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

WORKDIR /app
RUN chown deno:deno /app
USER deno

# The dependencies first, in their own layer: it is rebuilt only when deno.json or deno.lock change.
COPY --chown=deno:deno deno.json deno.lock ./
RUN deno install --frozen
COPY --chown=deno:deno . .
# Resolve the CLI's and the config's modules, then load the config once (`validate` connects to
# nothing): a broken config fails the build, and the producer starts from a warm transpile cache.
RUN deno cache --frozen cli/main.ts pipeline.config.ts \
  && deno task --quiet pipeline validate >/dev/null

CMD ["deno", "task", "--quiet", "pipeline", "stream", "ingest"]
