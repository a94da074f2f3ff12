"""Vélib' rerun, the morning after: reload a window of Kafka into the warehouse, rebuild its gold.

For when the warehouse is missing or holds wrong results for a stretch of time that Kafka still
holds (a day): an outage left a gap in raw, a bug in the gold refreshes was fixed, or a backup
was restored and lacks what came after it. Triggered by hand, never on a schedule:

    airflow dags trigger velib_rerun --conf '{"from": "2025-10-18T01:00:00Z", "to": "2025-10-18T03:00:00Z"}'
    airflow dags trigger velib_rerun --conf '{"from": "2025-10-18T01:00:00+02:00", "stages": ["gold"]}'

Params (checked against their JSON schema when the run is created, so a bad conf fails before
any task runs):
- `from` (required): an ISO-8601 instant with its zone, e.g. 2025-10-18T01:00:00Z.
- `to` (optional): the same, excluded from the window; without it the window ends where Kafka
  ends when the task starts.
- `stages`: which of "load", "gold", "checks" to run (default all three). A stage left out is
  skipped, not failed, and the stages after it still run: ["gold"] only rebuilds the gold
  tables of the window from raw.

Tasks, each one `deno task pipeline …` command as in velib_pipeline.py (same directory, same
environment, the JSON summary as XCom):
- reload_window (load): `batch load --from … [--to …] --load-only`, the window from Kafka into
  raw and mart.
- rebuild_gold (gold): `step load refresh-hourly refresh-daily --from … [--to …]`, the hourly
  and daily buckets that overlap the window, recomputed from raw.
- compute_station_rank (gold): `step load rank-stations`, the live ranking (the last 24 hours
  of raw), alongside rebuild_gold.
- data_quality_check (checks): `check load`, last.

A rerun never changes the live consumer group's committed offsets, the live pipeline's
positions (it keeps its own under `load:rerun`), or rows already in raw (a snapshot already
there is kept as it is; mart only moves to a newer snapshot). So the every-5-minutes
velib_pipeline goes on as if the rerun had not happened. A fix to enrich therefore does not
rewrite raw rows already loaded.

Like velib_pipeline.py, this file imports nothing from the project but velib_common.py (the
tasks' operator and failure email, the same in both DAGs), and reads no Variable, metadata DB or
network when parsed; the project directory is resolved when a task runs.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, TriggerRule
from velib_common import FailureEmail, PipelineOperator

# The checkout this file sits in; the fallback when neither the Variable nor the env var is set.
REPO_ROOT = str(Path(__file__).resolve().parent.parent)


def velib_project_dir() -> str:
    """`VELIB_PROJECT_DIR`, else the repo root: a macro, so read in the worker at render time."""
    return os.environ.get("VELIB_PROJECT_DIR") or REPO_ROOT


# Rendered per task instance: the Variable wins, then the worker's env, then the repo root.
PROJECT_DIR = "{{ var.value.get('velib_project_dir', None) or velib_project_dir() }}"

STAGES = ["load", "gold", "checks"]

# The exit code of a stage left out of `stages`, which BashOperator turns into "skipped". Only
# the guard below exits 99: the pipeline CLI never does (0, 1, 2, 3, 130, 143).
SKIPPED = 99

# What the CLI's --from/--to accept: a date, a time to the second at least, and a zone (without
# one, the time would be read in the worker's zone). `(?!\n)$` ends the value for both Python's
# `re` (where a bare `$` also matches before a trailing newline) and ECMA-262 (the UI's).
INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})(?!\n)$"

# The window as CLI options. Values are shell-quoted, never spliced raw: the schema already
# limits them, but the command must hold even if a value had a quote or a `$(…)` in it.
WINDOW = (
    "--from {{ params['from'] | shell_quote }}"
    "{% if params['to'] is not none %} --to {{ params['to'] | shell_quote }}{% endif %}"
)


def pipeline(task_id: str, stage: str, args: str, timeout: timedelta) -> PipelineOperator:
    """One `deno task pipeline <args>` run in the project directory, when `stage` is chosen."""
    return PipelineOperator(
        task_id=task_id,
        # Decided when the task renders, so the rendered command shows what ran: the pipeline
        # command, or the guard. JSON logs go to stderr and end before the summary, so the
        # summary is the last line of output and reaches XCom.
        bash_command=(
            f"{{% if '{stage}' in params['stages'] %}}"
            f"deno task pipeline {args} --log-format json"
            "{% else %}"
            f"echo 'Stage {stage} is not in params.stages: skipped.'; exit {SKIPPED}"
            "{% endif %}"
        ),
        cwd=PROJECT_DIR,
        # append_env: add to the worker's environment (PATH, DATABASE_URL, KAFKA_BROKERS),
        # not replace it.
        env={"NO_COLOR": "1"},
        append_env=True,
        skip_on_exit_code=SKIPPED,
        # After upstreams that succeeded or were skipped (a stage left out), never after one
        # that failed. (For reload_window, which has none, the same as all_success.)
        trigger_rule=TriggerRule.NONE_FAILED,
        execution_timeout=timeout,
        on_failure_callback=FailureEmail(),
    )


with DAG(
    dag_id="velib_rerun",
    description="Vélib' rerun: a window of Kafka reloaded into the warehouse, its gold rebuilt.",
    schedule=None,
    catchup=False,
    # Two reruns at once would share the rerun positions (`load:rerun`) and race for them.
    max_active_runs=1,
    # A rerun is idempotent: raw keeps a snapshot already there, mart only moves to a newer
    # one, each gold bucket is recomputed whole, and the rerun's positions are its own. So a
    # retry after a partial reload, or a timeout, gives the same warehouse as one clean try:
    # retries ride out a broker or database restart, as in velib_pipeline. Exit 2 (a window
    # the CLI refuses, e.g. `from` after `to`) and 3 (a failed check) fail at once.
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "from": Param(
            type="string",
            format="date-time",
            pattern=INSTANT_PATTERN,
            description="Start of the window, included: an ISO-8601 time with its zone, "
            "e.g. 2025-10-18T01:00:00Z. Kafka keeps a day.",
        ),
        "to": Param(
            None,
            type=["null", "string"],
            format="date-time",
            pattern=INSTANT_PATTERN,
            description="End of the window, excluded, as `from`; empty for the end of what "
            "Kafka holds when the reload starts.",
        ),
        "stages": Param(
            STAGES,
            type="array",
            items={"type": "string", "enum": STAGES},
            uniqueItems=True,
            # A rerun of nothing is a mistake in the conf, not a run to record as a success.
            minItems=1,
            description="What to redo: load (Kafka → raw and mart), gold (hourly, daily, "
            "ranking), checks. A stage left out is skipped; the others still run.",
        ),
    },
    user_defined_macros={"velib_project_dir": velib_project_dir},
    user_defined_filters={"shell_quote": shlex.quote},
    tags=["velib"],
) as dag:
    # Timeouts bound how long a stuck run holds the slot; a timed-out command gets SIGTERM and
    # exits 143 without acknowledging the batch in flight, so killing it is safe.
    # - reload, 15 min: at most a day of messages (2.1 M), which loads in about a minute
    #   (bench/RESULTS.md, 41,000 msg/s).
    # - gold rebuild, 10 min: at most a day of buckets recomputed from raw.
    # - ranking and checks, 2 min, as in velib_pipeline: the same work as a live run.
    reload = pipeline(
        "reload_window",
        "load",
        f"batch load {WINDOW} --load-only",
        timedelta(minutes=15),
    )
    rebuild = pipeline(
        "rebuild_gold",
        "gold",
        f"step load refresh-hourly refresh-daily {WINDOW}",
        timedelta(minutes=10),
    )
    # The ranking reads raw, not the hourly or daily tables, so it needs the reload only and
    # runs alongside rebuild_gold.
    rank = pipeline("compute_station_rank", "gold", "step load rank-stations", timedelta(minutes=2))
    quality = pipeline("data_quality_check", "checks", "check load", timedelta(minutes=2))

    reload >> [rebuild, rank] >> quality
