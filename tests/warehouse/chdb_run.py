"""Runs SQL statements in order in one chDB session (ClickHouse in process), for
clickhouse_current_test.ts.

    python chdb_run.py SPEC OUT

SPEC is a JSON file: {"path": session dir, "statements": [{"label": ..., "sql": ...}, ...]}.
Every statement runs, also after one failed, so that each failure is reported with its own
error. OUT gets {"chdb": version, "engine": ClickHouse version, "results": [...]}, one result
per statement in order: {"label", "rows": [...]} (rows as JSONEachRow objects; none for a
command) or {"label", "error": chDB's message}.
"""

import json
import sys

import chdb
from chdb import session


def run(spec):
    results = []
    sess = session.Session(spec["path"])
    try:
        for statement in spec["statements"]:
            label = statement["label"]
            try:
                text = sess.query(statement["sql"], "JSONEachRow").bytes().decode("utf-8")
            except Exception as error:  # chdb raises ChdbError (a RuntimeError) for SQL errors
                results.append({"label": label, "error": str(error).strip()})
                continue
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            results.append({"label": label, "rows": rows})
    finally:
        sess.close()
    return results


def main():
    spec_path, out_path = sys.argv[1:3]
    with open(spec_path, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    out = {"chdb": chdb.__version__, "engine": chdb.engine_version, "results": run(spec)}
    with open(out_path, "w", encoding="utf-8") as out_file:
        json.dump(out, out_file)


if __name__ == "__main__":
    main()
