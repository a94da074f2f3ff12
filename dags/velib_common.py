"""What the Vélib' DAG files share: the operator of a `deno task pipeline …` task, and the failure
email every task sends.

Not a DAG file: dags/.airflowignore keeps the DAG processor from parsing it for DAGs, and the
DAG files import it (Airflow puts the DAG folder on sys.path). Like them, it reads no Variable,
metadata DB or network at import.

Exit codes (the CLI's): 0 ok, 1 failure, 2 usage, 3 a data-quality check failed, 130 and 143
stopped by a signal. A task fails on any code but 0; it is retried on 1 and on the signal codes
(a broker or database restart, a timeout), never on 2 or 3, which the same command would only
repeat.

The failure email goes through the SMTP provider's SmtpNotifier and the Airflow connection
`smtp_default` (host, port, login, and `from_email` in its extra; e.g. the env var
`AIRFLOW_CONN_SMTP_DEFAULT`). Its recipients are read when a task fails: the Airflow Variable
`velib_alert_emails`, else `VELIB_ALERT_EMAILS` in the worker's environment, comma-separated.
Without either, the task logs that no email was sent.
"""

from __future__ import annotations

import json
import os
from functools import cached_property

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.providers.standard.hooks.subprocess import SubprocessHook
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

# Usage (a bad argument or config) and a failed data-quality check: a retry runs the same
# command on the same input, so it would fail the same way, only later.
NOT_RETRIED = {2: "a usage error", 3: "a data-quality check failed"}


class CommandHook(SubprocessHook):
    """SubprocessHook that keeps its command's result: BashOperator drops it when it fails."""

    result = None

    def run_command(self, *args, **kwargs):
        self.result = super().run_command(*args, **kwargs)
        return self.result


class PipelineOperator(BashOperator):
    """A BashOperator for a `deno task pipeline …` command, whose exit code decides the retry and
    whose JSON summary (the last line of output) says what failed."""

    @cached_property
    def subprocess_hook(self) -> CommandHook:
        return CommandHook()

    def execute(self, context):
        hook = self.subprocess_hook
        # A try that fails before the command ends must not report the previous try's result
        # (`airflow dags test` runs every try in one process, on one operator).
        hook.result = None
        try:
            return super().execute(context)
        except AirflowSkipException:
            raise
        except AirflowException:
            if hook.result is None:
                # Failed before the command ran (a missing cwd): as BashOperator says.
                raise
            code = hook.result.exit_code
            reason = NOT_RETRIED.get(code)
            exited = f"`deno task pipeline` exited {code}"
            exited += f" ({reason}: not retried)" if reason else ""
            error = summary_error(hook.result.output)
            message = f"{exited}: {error}" if error else f"{exited}."
            # AirflowFailException fails the task whatever its retries; any other error is retried.
            raise (AirflowFailException if reason else AirflowException)(message) from None


def summary_error(line: str) -> str | None:
    """What failed, on one line, from the command's JSON summary: its `error` (message, hint),
    else each unhealthy component (`health`) and failed error-severity check (`check`, `batch`).
    None when the line is no summary or names no failure.

        >>> summary_error('{"exitCode": 2, "error": {"message": "No such pipeline.", "hint": "x"}}')
        'No such pipeline. Hint: x'
    """
    try:
        summary = json.loads(line)
    except ValueError:
        return None
    if not isinstance(summary, dict):
        return None
    if isinstance(summary.get("error"), dict):
        return _one_line(summary["error"].get("message"), summary["error"].get("hint"))
    unhealthy = [
        f"{component.get('name')}: {_one_line(component.get('error'), component.get('hint'))}"
        for component in summary.get("components") or []
        if component.get("healthy") is False
    ]
    failed = [
        f"check {check.get('name')} failed: {_one_line(check.get('message'), None)}"
        for check in summary.get("checks") or []
        if check.get("severity") == "error" and check.get("passed") is False
    ]
    return "; ".join(unhealthy + failed) or None


def _one_line(message: str | None, hint: str | None) -> str:
    """`message`, then `Hint: hint`, with every run of whitespace (newlines too) as one space."""
    text = f"{message} Hint: {hint}" if hint else str(message)
    return " ".join(text.split())


SUBJECT = "Airflow: {{ ti.dag_id }}.{{ ti.task_id }} failed in run {{ ti.run_id }}"

BODY = (
    "<p>Task {{ ti.task_id | e }} of DAG {{ ti.dag_id | e }} failed in run {{ ti.run_id | e }},"
    " at try {{ ti.try_number }} of {{ ti.max_tries + 1 }}.</p>"
    "{% if exception %}<p>{{ exception | e }}</p>{% endif %}"
    '<p><a href="{{ ti.log_url | e }}">The task\'s log</a></p>'
)


class FailureEmail(SmtpNotifier):
    """The email a task sends when it fails for good (after its retries): the DAG, the task, the
    run, and what failed, to the Variable's or the env var's recipients."""

    def __init__(self):
        # `to` is rendered when the task fails, so the Variable is read then, never at parse time.
        super().__init__(
            to="{{ var.value.get('velib_alert_emails', '') }}",
            subject=SUBJECT,
            html_content=BODY,
        )

    def notify(self, context):
        self.to = self.to.strip() or os.environ.get("VELIB_ALERT_EMAILS", "").strip()
        if not self.to:
            self.log.info(
                "No failure email sent: neither the Variable velib_alert_emails nor "
                "VELIB_ALERT_EMAILS names a recipient."
            )
            return
        super().notify(context)
