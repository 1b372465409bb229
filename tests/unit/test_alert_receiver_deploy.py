"""The shipped AlertmanagerConfig example reaches the receiver as deployed: Service, port, path, Secret."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml

from support_operator.cli.main import main as cli
from support_operator.intake.receiver import PATH, TOKEN_KEY

REPO = Path(__file__).resolve().parents[2]


def test_the_example_points_at_the_receiver_service_with_its_token_secret() -> None:
    example = yaml.safe_load((REPO / "deploy" / "examples" / "alertmanagerconfig.yaml").read_text())
    service = yaml.safe_load((REPO / "deploy" / "base" / "alert-receiver-service.yaml").read_text())
    assert (example["apiVersion"], example["kind"]) == (
        "monitoring.coreos.com/v1alpha1",
        "AlertmanagerConfig",
    )
    [receiver] = example["spec"]["receivers"]
    assert example["spec"]["route"]["receiver"] == receiver["name"]
    [webhook] = receiver["webhookConfigs"]
    url = urlparse(webhook["url"])
    meta = service["metadata"]
    assert url.hostname == f"{meta['name']}.{meta['namespace']}.svc" and url.path == PATH
    assert url.port == service["spec"]["ports"][0]["port"]
    assert webhook["sendResolved"] is True
    credentials = webhook["httpConfig"]["authorization"]["credentials"]
    run = cli.commands["run"]  # type: ignore[attr-defined]
    default_secret = next(p.default for p in run.params if p.name == "alert_receiver_secret")
    assert credentials == {"name": default_secret, "key": TOKEN_KEY}
    assert example["metadata"]["namespace"] == meta["namespace"]  # the Secret must be beside the config
