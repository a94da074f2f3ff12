"""Vélib' load, every 5 minutes: Kafka → warehouse, then the gold tables, then the checks; one
DAG per warehouse, of the same shape: `velib_pipeline` (PostgreSQL) and `velib_clickhouse`.

Each task is one `deno task pipeline …` command, so the DAG holds no pipeline logic and imports
nothing from the project but its neighbour velib_common.py. The command's exit code is the
task's state (0 ok, 1 failure, 2 usage, 3 a data-quality check failed; only 2 and 3 are not
retried) and the last line of its stdout, a one-line JSON summary, is the task's XCom. A task
that fails for good emails the Variable `velib_alert_emails`'s recipients, else
`VELIB_ALERT_EMAILS`'s, through the Airflow connection `smtp_default` (see velib_common.py).
With `VELIB_REPORT_DIR` set, `velib_pipeline` ends with `write_report`, the analysts' HTML
report, written to `$VELIB_REPORT_DIR/velib_report.html`.

Where the project lives is resolved when a task runs, never when this file is parsed:
the Airflow Variable `velib_project_dir`, else `VELIB_PROJECT_DIR` in the worker's
environment, else the directory above `dags/`. Parsing must stay cheap and offline (the DAG
processor re-parses this file every few seconds), so nothing here reads a Variable, the
metadata DB or the network at import.

The worker needs `deno` on its PATH, and `KAFKA_BROKERS` and `DATABASE_URL` (and, for
`velib_clickhouse`, `CLICKHOUSE_URL`) in its environment: every task inherits the worker's
environment.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG
from velib_common import FailureEmail, PipelineOperator

# The checkout this file sits in; the fallback when neither the Variable nor the env var is set.
# (A versioned DAG bundle may parse a copy of dags/ elsewhere: set the Variable then.)
REPO_ROOT = str(Path(__file__).resolve().parent.parent)


def velib_project_dir() -> str:
    """`VELIB_PROJECT_DIR`, else the repo root: a macro, so read in the worker at render time."""
    return os.environ.get("VELIB_PROJECT_DIR") or REPO_ROOT


# Rendered per task instance: the Variable wins, then the worker's env, then the repo root.
PROJECT_DIR = "{{ var.value.get('velib_project_dir', None) or velib_project_dir() }}"


def pipeline(
    task_id: str, args: str, timeout: timedelta, trigger_rule: str = "all_success"
) -> PipelineOperator:
    """One `deno task pipeline <args>` run in the project directory."""
    return PipelineOperator(
        task_id=task_id,
        trigger_rule=trigger_rule,
        # JSON logs go to stderr and end before the summary; Airflow reads stdout and stderr
        # as one stream and keeps its last line, so the summary is what reaches XCom.
        bash_command=f"deno task pipeline {args} --log-format json",
        cwd=PROJECT_DIR,
        # append_env: add to the worker's environment (PATH, DATABASE_URL, KAFKA_BROKERS),
        # not replace it.
        env={"NO_COLOR": "1"},
        append_env=True,
        # BashOperator turns exit code 99 into "skipped" by default. The CLI never exits 99,
        # and a skip would hide a failure, so every non-zero code fails the task.
        skip_on_exit_code=None,
        execution_timeout=timeout,
        on_failure_callback=FailureEmail(),
    )


def load_dag(dag_id: str, load: str, warehouse: str, description: str) -> DAG:
    """The load DAG of one warehouse: its pipeline `load` reads the topic with its own consumer
    group, so each warehouse's DAG runs, fails and catches up on its own; `warehouse` is the
    component `health` asks."""
    with DAG(
        dag_id=dag_id,
        description=description,
        # On the clock (:00, :05, …): one run per 5 minutes of messages, easy to match with logs.
        schedule="*/5 * * * *",
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        # Each run consumes everything waiting in Kafka, so missed intervals need no catch-up
        # run, and two runs at once would only race for the same messages.
        catchup=False,
        max_active_runs=1,
        # Retries ride out a broker or database restart. PipelineOperator fails exit codes 2
        # and 3 (usage, a failed check) at once: a retry would only repeat them.
        default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
        user_defined_macros={"velib_project_dir": velib_project_dir},
        tags=["velib"],
    ) as dag:
        # Timeouts: a timed-out command gets SIGTERM and exits 143 without acknowledging the
        # batch in flight, so killing it is safe; they only bound how long a stuck run holds
        # the slot.
        # - health, 1 min: one cheap call (a metadata request, a ping) that answers in
        #   milliseconds; a minute without an answer means the service is down.
        # - consume, 4 min: bounded to what the topic held at start, about 7,400 messages
        #   (1,471 stations a minute) that load in seconds. After an outage each batch stores
        #   its rows and then its offsets, so a timed-out try keeps its progress and the
        #   retries and next runs catch up. Health + consume fit one 5-min slot; past it,
        #   max_active_runs=1 delays the next run instead of overlapping it.
        # - refreshes and ranking, 2 min: incremental, their cost follows what was just loaded.
        # - quality, 2 min: a few aggregate queries over the warehouse.
        minute, minutes = timedelta(minutes=1), timedelta(minutes=2)
        kafka_health = pipeline("check_kafka_health", f"health {load} kafka", minute)
        dwh_health = pipeline("check_dwh_health", f"health {load} {warehouse}", minute)
        consume = pipeline(
            "consume_kafka_batch", f"batch {load} --load-only", timedelta(minutes=4)
        )
        gold = [
            pipeline("refresh_hourly_agg", f"step {load} refresh-hourly", minutes),
            pipeline("refresh_daily_agg", f"step {load} refresh-daily", minutes),
            pipeline("compute_station_rank", f"step {load} rank-stations", minutes),
        ]
        quality = pipeline("data_quality_check", f"check {load}", minutes)

        # Gold only from a successful load (the default all_success trigger rule), checks last.
        [kafka_health, dwh_health] >> consume >> gold >> quality

        # The analysts' HTML report, when VELIB_REPORT_DIR names a folder for it (an env var of
        # the DAG processor and the workers: read at parse time, which stays cheap and offline).
        # PostgreSQL's DAG only, which the report reads. After the checks whatever they found:
        # a failed check is when analysts want the page. It replaces one file, atomically.
        report_dir = os.environ.get("VELIB_REPORT_DIR")
        if report_dir and warehouse == "postgres":
            out = shlex.quote(os.path.join(report_dir, "velib_report.html"))
            quality >> pipeline("write_report", f"report {load} --out {out}", minutes, "all_done")
    return dag


dag = load_dag(
    "velib_pipeline",
    load="load",
    warehouse="postgres",
    description="Vélib' stations: Kafka → PostgreSQL warehouse, gold tables, data-quality checks.",
)

# The same shape on the ClickHouse warehouse, a second consumer of the same topic.
clickhouse_dag = load_dag(
    "velib_clickhouse",
    load="load-clickhouse",
    warehouse="clickhouse",
    description="Vélib' stations: Kafka → ClickHouse warehouse, gold tables, data-quality checks.",
)
