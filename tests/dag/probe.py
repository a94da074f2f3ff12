"""What the DAG tests (tests/dag/*_test.ts) check, read out of Airflow as one line of JSON.

Run with the venv of tools/lib/airflow.ts and its AIRFLOW_HOME:

    python probe.py shape <dags folder>          the DAG as the DAG processor loads it
    python probe.py offline-import <dag file>    import the file with network and DB blocked
    python probe.py run <dag id> <logical date>  a finished run: task states and XComs

The Deno tests assert; this only reports. The JSON is the last line of stdout.
"""

from __future__ import annotations

import json
import os
import sys


def shape(dags_folder: str) -> dict:
    # Since Airflow 3.1 the DagBag lives in airflow.dag_processing.dagbag; the old
    # airflow.models.dagbag path is a deprecated shim there.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    facts: dict = {"dag_ids": sorted(bag.dag_ids), "import_errors": dict(bag.import_errors)}
    dag = bag.dags.get("velib_pipeline")
    if dag is None:
        return facts
    facts["dag"] = {
        "schedule": repr(dag.schedule),
        "interval_seconds": schedule_intervals(dag),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "project_dir": render_project_dirs(dag),
        "tasks": {
            task.task_id: {
                "operator": f"{type(task).__module__}.{type(task).__name__}",
                "bash_command": getattr(task, "bash_command", None),
                "upstream": sorted(task.upstream_task_ids),
                "downstream": sorted(task.downstream_task_ids),
                "retries": task.retries,
                "retry_delay_seconds": task.retry_delay.total_seconds(),
                "execution_timeout_seconds": (
                    task.execution_timeout.total_seconds() if task.execution_timeout else None
                ),
                "append_env": getattr(task, "append_env", None),
                "skip_on_exit_code": sorted(getattr(task, "skip_on_exit_code", None) or []),
                "do_xcom_push": task.do_xcom_push,
                "trigger_rule": getattr(task.trigger_rule, "value", str(task.trigger_rule)),
            }
            for task in dag.tasks
        },
    }
    return facts


def schedule_intervals(dag) -> list[float]:
    """Seconds between the next four scheduled instants, whatever form the schedule takes."""
    from datetime import datetime, timedelta, timezone

    schedule = dag.schedule
    if isinstance(schedule, timedelta):
        return [schedule.total_seconds()]
    if isinstance(schedule, str):
        from croniter import croniter

        it = croniter(schedule, datetime(2026, 3, 29, 0, 58, tzinfo=timezone.utc))
        instants = [it.get_next(datetime) for _ in range(5)]
        return [(b - a).total_seconds() for a, b in zip(instants, instants[1:])]
    return []


def render_project_dirs(dag) -> dict:
    """The `cwd` template rendered as a worker would: per the Variable and the env var."""

    class Variables:  # Stands in for the `var.value` accessor of a task's context.
        def __init__(self, values):
            self.values = values

        def get(self, key, default=None):
            return self.values.get(key, default)

    template = dag.get_task("check_kafka_health").cwd
    env = dag.get_template_env()

    def render(variables: dict, env_dir: str | None) -> str:
        saved = os.environ.pop("VELIB_PROJECT_DIR", None)
        try:
            if env_dir is not None:
                os.environ["VELIB_PROJECT_DIR"] = env_dir
            return env.from_string(template).render(var={"value": Variables(variables)})
        finally:
            os.environ.pop("VELIB_PROJECT_DIR", None)
            if saved is not None:
                os.environ["VELIB_PROJECT_DIR"] = saved

    return {
        "template": template,
        "default": render({}, None),
        "env": render({}, "/from/env"),
        "variable": render({"velib_project_dir": "/from/variable"}, "/from/env"),
        "same_for_all_tasks": len({task.cwd for task in dag.tasks}) == 1,
    }


def offline_import(dag_file: str) -> dict:
    """Imports the DAG file in this fresh process with every connection refused, and says which
    were attempted. Airflow itself is first imported by the DAG file, under the same guard."""
    import importlib.util
    import socket
    import sqlite3

    attempts: list[str] = []

    def refuse(what):
        def refused(*args, **kwargs):
            attempts.append(f"{what}{args[1:2] or args[:1]}")
            raise OSError(f"{what} blocked: a DAG import must not touch the network or the DB")

        return refused

    socket.socket.connect = refuse("socket.connect")
    socket.socket.connect_ex = refuse("socket.connect_ex")
    socket.socket.sendto = refuse("socket.sendto")
    socket.create_connection = refuse("socket.create_connection")
    socket.getaddrinfo = refuse("socket.getaddrinfo")
    sqlite3.connect = refuse("sqlite3.connect")
    import sqlalchemy.engine

    sqlalchemy.engine.Engine.connect = refuse("Engine.connect")
    sqlalchemy.engine.Engine.raw_connection = refuse("Engine.raw_connection")

    result: dict = {"imported": False, "error": None}
    try:
        spec = importlib.util.spec_from_file_location("velib_pipeline_offline", dag_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result["imported"] = True
        result["dag_id"] = getattr(getattr(module, "dag", None), "dag_id", None)
    except BaseException as error:  # noqa: BLE001 — reported, the test decides
        result["error"] = f"{type(error).__name__}: {error}"
    result["attempts_during_import"] = list(attempts)

    # The guard must bite, or an empty list above proves nothing.
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        result["guard_works"] = False
    except OSError as error:
        result["guard_works"] = "blocked" in str(error)
    return result


def run(dag_id: str, logical_date: str) -> dict:
    """The run of `dag_id` at `logical_date`: its state, and each task's state, try and XCom."""
    import pendulum
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    wanted = pendulum.parse(logical_date)
    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id)).all()
        matches = [r for r in runs if r.logical_date and pendulum.instance(r.logical_date) == wanted]
        if not matches:
            return {"error": f"no run of {dag_id} at {logical_date}", "runs": [r.run_id for r in runs]}
        dag_run = matches[0]
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id)
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.key == "return_value",
            )
        ).all()
        return {
            "run_id": dag_run.run_id,
            "state": str(dag_run.state),
            "tasks": {
                ti.task_id: {"state": str(ti.state), "try_number": ti.try_number, "max_tries": ti.max_tries}
                for ti in tis
            },
            # As stored: BashOperator pushes its last output line as a string.
            "xcom": {x.task_id: x.value for x in xcoms},
        }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    facts = {"shape": shape, "offline-import": offline_import, "run": run}[command](*args)
    sys.stdout.flush()
    print(json.dumps(facts, default=str))
