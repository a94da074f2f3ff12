# Airflow 3 with Deno and the project, for the compose services airflow-init, airflow-apiserver,
# airflow-scheduler and airflow-dag-processor. The DAG shells out to `deno task pipeline …` in
# VELIB_PROJECT_DIR; with the LocalExecutor those commands run in the scheduler's container.
#
# Build context: the repository root (see .dockerignore).
#   docker build -f docker/airflow.Dockerfile -t velib-airflow:local .

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
ARG DENO_VERSION=2.9.6

FROM denoland/deno:bin-${DENO_VERSION} AS deno

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

COPY --from=deno /deno /usr/local/bin/deno

# DENO_DIR is group 0 and group-writable, as the rest of the image, so that Deno can add to its
# cache under any uid that Airflow's image supports (uid 50000 by default, gid 0).
ENV VELIB_PROJECT_DIR=/opt/velib \
    DENO_DIR=/opt/velib-deno \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1 \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/velib/dags

USER root
RUN mkdir -p "$VELIB_PROJECT_DIR/dags" "$DENO_DIR" \
  && chown -R airflow:0 "$VELIB_PROJECT_DIR" "$DENO_DIR" \
  && chmod -R g+rwX "$VELIB_PROJECT_DIR" "$DENO_DIR"
USER airflow

WORKDIR /opt/velib
# The dependencies first, in their own layer: it is rebuilt only when deno.json or deno.lock change.
COPY --chown=airflow:0 deno.json deno.lock ./
RUN deno install --frozen
COPY --chown=airflow:0 . .
# Resolve the CLI's and the config's modules, then load the config once (`validate` connects to
# nothing): a broken config fails the build, and tasks start from a warm transpile cache.
RUN deno cache --frozen cli/main.ts pipeline.config.ts \
  && deno task --quiet pipeline validate >/dev/null \
  && chmod -R g+rwX "$DENO_DIR"

WORKDIR /opt/airflow
