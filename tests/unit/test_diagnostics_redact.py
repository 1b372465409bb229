"""Redaction: planted secret-looking values never survive, what is kept is said, the manifest counts."""

from __future__ import annotations

import json
import re

import pytest

from support_operator.api.v1alpha1.diagnostics import DiagnosticsSpec
from support_operator.diagnostics.redact import REDACTED, RedactionPolicy, RedactionRuleError, Redactor

PLANTED = {
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
    "aws": "AKIAPLANTED123456789",
    "github": "ghp_PlantedGithubToken0123456789abcd",
    "password": "Pl4nted-Passw0rd!",
    "url": "s3cr3t-in-url",
    "bearer": "plantedBearerToken123456",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIplantedkeymaterial\n-----END RSA PRIVATE KEY-----",
}


def test_builtin_value_rules_catch_common_credentials() -> None:
    text = (
        f"token {PLANTED['jwt']} key {PLANTED['aws']} gh {PLANTED['github']} password={PLANTED['password']} "
        f"db postgres://app:{PLANTED['url']}@db:5432 Authorization: Bearer {PLANTED['bearer']}\n"
        f"{PLANTED['pem']}"
    )
    redactor = Redactor()
    cleaned = redactor.text(text, "log")
    for value in PLANTED.values():
        assert value not in cleaned
    assert "password=[redacted]" in cleaned and "postgres://[redacted]@db:5432" in cleaned
    assert redactor.report()["counts"]["jwt"] == 1


def test_config_map_values_become_lengths_unless_allow_listed() -> None:
    config_map = {
        "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": "shop"},
        "data": {"LOG_LEVEL": "debug", "application.yaml": "db:\n  user: app\n", "FEATURE": "on"},
        "binaryData": {"blob": "AAAA"},
    }
    policy = RedactionPolicy.from_spec(DiagnosticsSpec(keep_config_map_values=["LOG_LEVEL", "app/FEATURE"]))
    cleaned = Redactor(policy).object(config_map)
    assert cleaned["data"] == {"LOG_LEVEL": "debug", "application.yaml": "[16 bytes]", "FEATURE": "on"}
    assert cleaned["binaryData"] == {"blob": "[3 bytes, binary]"}


def test_env_literal_values_are_dropped_references_kept() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "env": [
                        {"name": "MODE", "value": "plain-looking-but-dropped"},
                        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
                    ],
                }
            ]
        },
    }
    redactor = Redactor()
    env = redactor.object(pod)["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "MODE", "value": "[removed: literal value]"}
    assert env[1] == {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}
    assert redactor.report()["counts"]["env-value"] == 1


def test_annotations_last_applied_and_secret_looking_keys() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"v"}}',
                "example.com/api-token": "opaque-planted-value",
                "example.com/note": f"see {PLANTED['jwt']}",
            },
            "managedFields": [{"manager": "kubectl"}],
        },
    }
    cleaned = Redactor().object(obj)
    assert "managedFields" not in cleaned["metadata"]
    assert set(cleaned["metadata"]["annotations"].values()) == {REDACTED, "see [redacted]"}
    assert "planted" not in json.dumps(cleaned)


def test_contract_rules_by_value_and_by_key() -> None:
    spec = DiagnosticsSpec.model_validate(
        {
            "redaction": [
                {"name": "customer-ids", "pattern": r"CUST-[0-9]{6}"},
                {"name": "licence", "key": r"licen[cs]e"},
            ]
        }
    )
    policy = RedactionPolicy.from_spec(spec)
    redactor = Redactor(policy)
    cleaned = redactor.object(
        {"metadata": {"name": "x", "labels": {"acme/licence": "L-1"}}, "note": "CUST-123456"}
    )
    assert cleaned == {"metadata": {"name": "x", "labels": {"acme/licence": REDACTED}}, "note": REDACTED}
    assert redactor.report()["counts"] == {"customer-ids": 1, "licence": 1}
    assert {"name": "customer-ids", "pattern": "CUST-[0-9]{6}"} in policy.describe()


def test_an_invalid_contract_rule_is_refused_with_its_name() -> None:
    spec = DiagnosticsSpec.model_validate({"redaction": [{"name": "broken", "pattern": "(unclosed"}]})
    with pytest.raises(RedactionRuleError, match=re.escape("redaction rule broken: '(unclosed'")):
        RedactionPolicy.from_spec(spec)
