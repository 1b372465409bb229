"""`support-operator dev` with its mail catcher: the sample cases' confirmations land as files, and a mail
dropped into the drop folder reaches the local IMAP mailbox and opens a case."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support_operator.testing.controlplane import ControlPlaneError, free_port, run_kubectl
from support_operator.testing.imap import locate_imap_server
from support_operator.testing.wait import eventually


def test_dev_catches_confirmations_and_opens_a_case_from_a_dropped_mail(
    control_plane, tmp_path: Path
) -> None:
    try:
        locate_imap_server()  # `support-operator dev` uses it when it is there
    except ControlPlaneError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the IMAP test server: {error}")
        pytest.skip(f"no IMAP test server (needs Go to build hack/imap): {error}")
    home = tmp_path / "home"
    log = tmp_path / "dev.log"
    env = {**os.environ, "SUPPORT_OPERATOR_DEV_HOME": str(home)}
    env.pop("KUBECONFIG", None)
    command = [
        str(Path(sys.executable).parent / "support-operator"),
        "dev",
        f"--metrics-port={free_port()}",
        f"--liveness-port={free_port()}",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        eventually(lambda: "  cp " in log.read_text(), timeout=120, what="the instructions to send a mail")
        text = log.read_text()
        assert f"land in {home / 'mail' / 'sent'}/" in text
        source, target = re.search(r"  cp (\S+) (\S+)", text).groups()  # type: ignore[union-attr]
        # The sample cases are confirmed over the catcher: no "Not Found", a file per mail.
        eventually(lambda: list((home / "mail" / "sent").glob("*.eml")), timeout=60, what="a confirmation")
        assert "Not Found" not in log.read_text()

        shutil.copyfile(source, target)
        kubeconfig = home / "kubeconfig"

        def email_cases() -> list[dict]:
            listed = run_kubectl(
                control_plane.kubectl_path, kubeconfig, "get", "supportcases", "-n", "default", "-o", "json"
            )
            return [
                c
                for c in json.loads(listed.stdout)["items"]
                if c["spec"].get("reportedVia") == "Email"
                and c["metadata"].get("annotations", {}).get("support.puzzle.ch/message-id")
            ]

        (case,) = eventually(email_cases, timeout=60, what="the case opened by the dropped mail")
        assert case["spec"]["title"] == "Production: shop returns 503"
        name = case["metadata"]["name"]
        eventually(lambda: f"/{name}]" in log.read_text(), timeout=60, what="its confirmation on the console")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
    assert code == 0, log.read_text()[-3000:]
