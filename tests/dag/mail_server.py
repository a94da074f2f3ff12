"""A real SMTP server on loopback for the DAG tests (aiosmtpd), run by mail_server.ts:

    python mail_server.py <port> <folder>

Each message it accepts becomes one JSON file in <folder> (envelope, headers, the body decoded,
and its text without the HTML), written whole before the server answers 250, so the test reads
only complete ones.
Prints `ready` once it listens; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import sys
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class SaveEach:
    """The aiosmtpd handler: every message to a file of its own."""

    def __init__(self, folder: str):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        body = message.get_body(preferencelist=("html", "plain"))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["from"] or ""),
            "to": str(message["to"] or ""),
            "subject": str(message["subject"] or ""),
            "body": body.get_content() if body is not None else "",
        }
        # What a reader sees: no tags, entities decoded, one space between words.
        text = html.unescape(re.sub(r"<[^>]+>", " ", record["body"]))
        record["text"] = " ".join(text.split())
        path = os.path.join(self.folder, f"{time.time_ns()}.json")
        # Renamed into place: a reader never sees half a message.
        with open(f"{path}.part", "w") as file:
            json.dump(record, file)
        os.rename(f"{path}.part", path)
        return "250 Message accepted for delivery"


def main(port: str, folder: str) -> None:
    # Blocked before the server's thread starts, so that it inherits the mask and the signals
    # wait for sigwait below.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    controller = Controller(SaveEach(folder), hostname="127.0.0.1", port=int(port))
    controller.start()
    print("ready", flush=True)
    try:
        signal.sigwait(stop)
    finally:
        controller.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
