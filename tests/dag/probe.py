"""What the DAG tests (tests/dag/*_test.ts) check, read out of Airflow as one line of JSON.

Run with the venv of tools/lib/airflow.ts and its AIRFLOW_HOME:

    python probe.py shape <dags folder>          the DAGs as the DAG processor loads them
    python probe.py confs <dags folder> <dag id> <{name: conf} as JSON>
                                                 each conf validated, and the commands it renders
    python probe.py exits <dags folder> <dag id> <task id> <{exit code: last line} as JSON>
                                                 what the task's execute does per exit code
    python probe.py offline-import <dag file>    import the file with network and DB blocked
    python probe.py run <dag id> <logical date>  a finished run: task states and XComs

The Deno tests assert; this only reports. The JSON is the last line of stdout.
"""

from __future__ import annotations

import json
import os
import sys


def dag_bag(dags_folder: str):
    """The DAG folder as the DAG processor, the workers and `airflow dags test` load it: a bundle
    on sys.path, so that the DAG files import their neighbour velib_common.py."""
    from pathlib import Path

    # Since Airflow 3.1 the DagBag lives in airflow.dag_processing.dagbag; the old
    # airflow.models.dagbag path is a deprecated shim there.
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=dags_folder, bundle_path=Path(dags_folder))


def shape(dags_folder: str) -> dict:
    bag = dag_bag(dags_folder)
    facts: dict = {
        "dag_ids": sorted(bag.dag_ids),
        "import_errors": dict(bag.import_errors),
        # The files parsed for DAGs, by name: what .airflowignore leaves.
        "files": sorted(os.path.basename(stat.file) for stat in bag.dagbag_stats),
    }
    # Every DAG by id; `dag` is velib_pipeline's, as before there were two.
    facts["dags"] = {dag_id: dag_facts(dag) for dag_id, dag in sorted(bag.dags.items())}
    if "velib_pipeline" in facts["dags"]:
        facts["dag"] = facts["dags"]["velib_pipeline"]
    return facts


def dag_facts(dag) -> dict:
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk.definitions._internal.types import is_arg_set

    return {
        "schedule": repr(dag.schedule),
        # False for a DAG that only runs when triggered.
        "can_be_scheduled": dag.timetable.can_be_scheduled,
        "interval_seconds": schedule_intervals(dag),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "tags": sorted(dag.tags),
        "params": {
            name: {
                "required": not is_arg_set(param.value),
                "default": param.value if is_arg_set(param.value) else None,
                "schema": param.schema,
                "description": param.description,
            }
            for name, param in ((name, dag.params.get_param(name)) for name in dag.params)
        },
        "project_dir": render_project_dirs(dag),
        "tasks": {
            task.task_id: {
                "operator": f"{type(task).__module__}.{type(task).__name__}",
                "is_bash_operator": isinstance(task, BashOperator),
                # Each callback's class, and the recipients template of those with one.
                "on_failure_callback": [
                    {
                        "class": f"{type(callback).__module__}.{type(callback).__name__}",
                        "to": getattr(callback, "to", None),
                    }
                    for callback in task.on_failure_callback or []
                ],
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

    template = dag.tasks[0].cwd
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


def confs(dags_folder: str, dag_id: str, confs_json: str) -> dict:
    """For each named conf: whether creating a run with it passes the params' validation (the
    check `airflow dags trigger` and `dags test` make), and what every task's bash_command
    renders to and does when bash runs it, with a stand-in `deno` that prints its arguments.

    A conf that fails validation is rendered anyway, from the raw values: the quoting must hold
    even for values the schema would refuse."""
    import copy
    import shutil
    import subprocess
    import tempfile
    from types import SimpleNamespace

    from airflow.sdk.definitions._internal.types import is_arg_set
    from airflow.sdk.definitions.param import process_params
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dag_bag(dags_folder).dags[dag_id]
    # What the scheduler and `dags test` hold: the serialized DAG, whose params the new run's
    # conf is validated against.
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    defaults = {
        name: dag.params.get_param(name).value
        for name in dag.params
        if is_arg_set(dag.params.get_param(name).value)
    }

    stub_dir = tempfile.mkdtemp(prefix="probe-deno-")
    stub = os.path.join(stub_dir, "deno")
    with open(stub, "w") as file:
        file.write(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            "print(json.dumps({'argv': sys.argv[1:]}))\n"
        )
    os.chmod(stub, 0o755)
    bash = shutil.which("bash") or "bash"

    results: dict = {}
    try:
        for name, conf in json.loads(confs_json).items():
            result: dict = {"valid": True, "error": None}
            try:
                scheduler_dag.params.deep_merge(conf).validate()
            except Exception as error:  # noqa: BLE001 — reported, the test decides
                result["valid"] = False
                result["error"] = f"{type(error).__name__}: {error}"
            tasks: dict = {}
            for task in dag.tasks:
                # As the worker builds them (task_runner.get_template_context), when valid. On
                # copies of the params, as a worker parses the file afresh for each task:
                # resolving stores the values in the Param objects, for the next conf to see.
                params = (
                    process_params(
                        SimpleNamespace(params=copy.deepcopy(dag.params)),
                        SimpleNamespace(params=copy.deepcopy(task.params)),
                        conf,
                        suppress_exception=False,
                    )
                    if result["valid"]
                    else {**defaults, **conf}
                )
                try:
                    command = task.render_template(task.bash_command, {"params": params})
                except Exception as error:  # noqa: BLE001 — e.g. a required value missing
                    tasks[task.task_id] = {"render_error": f"{type(error).__name__}: {error}"}
                    continue
                ran = subprocess.run(
                    [bash, "-c", command],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PATH": f"{stub_dir}:{os.environ.get('PATH', '')}"},
                    timeout=30,
                )
                last = (ran.stdout.strip().splitlines() or [""])[-1]
                try:
                    argv = json.loads(last)["argv"]
                except (ValueError, KeyError, TypeError):
                    argv = None
                tasks[task.task_id] = {
                    "command": command,
                    "exit_code": ran.returncode,
                    "argv": argv,
                    "output": (ran.stdout + ran.stderr).strip(),
                }
            result["tasks"] = tasks
            results[name] = result
    finally:
        shutil.rmtree(stub_dir, ignore_errors=True)
    return results


def exits(dags_folder: str, dag_id: str, task_id: str, cases_json: str) -> dict:
    """For each exit code, the task's execute with a stand-in `deno` that prints the case's line
    (the JSON summary, or anything) and exits with that code: what it returned, or raised."""
    import shutil
    import tempfile

    from airflow.sdk.exceptions import AirflowFailException

    task = dag_bag(dags_folder).dags[dag_id].get_task(task_id)
    stub_dir = tempfile.mkdtemp(prefix="probe-deno-")
    stub = os.path.join(stub_dir, "deno")
    with open(stub, "w") as file:
        file.write(
            f"#!{sys.executable}\n"
            "import os, sys\n"
            "print(os.environ['PROBE_LINE'])\n"
            "sys.exit(int(os.environ['PROBE_EXIT']))\n"
        )
    os.chmod(stub, 0o755)
    # The rendered fields a worker would run with: the stand-in first on PATH, a real directory.
    task.cwd = stub_dir
    os.environ["PATH"] = f"{stub_dir}:{os.environ.get('PATH', '')}"
    results: dict = {}
    try:
        for code, line in json.loads(cases_json).items():
            os.environ["PROBE_EXIT"], os.environ["PROBE_LINE"] = code, line
            try:
                results[code] = {"returned": task.execute({"task": task})}
            except Exception as error:  # noqa: BLE001 — reported, the test decides
                results[code] = {
                    "raised": type(error).__name__,
                    # AirflowFailException fails the task at once; any other error is retried.
                    "retried": not isinstance(error, AirflowFailException),
                    "message": str(error),
                }
    finally:
        shutil.rmtree(stub_dir, ignore_errors=True)
    return results


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
    # The DAG folder on sys.path, as BundleDagBag puts it.
    sys.path.append(os.path.dirname(os.path.abspath(dag_file)))
    try:
        name = os.path.splitext(os.path.basename(dag_file))[0]
        spec = importlib.util.spec_from_file_location(f"{name}_offline", dag_file)
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
    commands = {
        "shape": shape,
        "confs": confs,
        "exits": exits,
        "offline-import": offline_import,
        "run": run,
    }
    facts = commands[command](*args)
    sys.stdout.flush()
    print(json.dumps(facts, default=str))
