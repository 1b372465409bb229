"""An in-memory stand-in for the API server's raw JSON interface, as far as the access applier uses it:
server-side apply (create or merge), delete, labelled lists, TokenRequest. Every request is logged."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from types import SimpleNamespace
from typing import Any

from kubernetes.client.rest import ApiException


def fake_token(jti: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'jti': jti})}.signature"


class FakeApi:
    """`namespaces`: those that exist (a RoleBinding elsewhere is refused with 404, as the server does)."""

    def __init__(self, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, namespace, name)
        self.calls: list[tuple[str, str]] = []
        self.uids = itertools.count(1)
        self.jtis = itertools.count(1)
        self.configuration = SimpleNamespace(host="https://api.example:6443", ssl_ca_cert=None)

    # -- what tests look at ------------------------------------------------------------------------------

    def clear(self) -> None:
        self.calls.clear()

    def named(self, plural: str) -> set[tuple[str, str]]:
        return {(ns, name) for p, ns, name in self.objects if p == plural}

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        return self.objects[(plural, namespace, name)]

    # -- the client interface ----------------------------------------------------------------------------

    def call_api(self, path: str, method: str, **kwargs: Any) -> SimpleNamespace:
        self.calls.append((method, path))
        query = dict(kwargs.get("query_params") or [])
        plural, namespace, name, sub = _parse(path)
        if method == "GET" and name is None:
            return _response({"items": self._list(plural, namespace, query["labelSelector"]), "metadata": {}})
        key = (plural, namespace or "", name or "")
        if method == "GET":
            return _response(self._existing(key))
        if method == "DELETE":
            self._existing(key)
            del self.objects[key]
            return _response({"kind": "Status", "status": "Success"})
        if method == "POST" and sub == "token":
            return _response(self._token(kwargs["body"]))
        if method == "PATCH":
            return _response(self._apply(key, kwargs["body"], query.get("force") == "true"))
        raise AssertionError(f"unexpected {method} {path}")

    def _existing(self, key: tuple[str, str, str]) -> dict[str, Any]:
        if key not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        return self.objects[key]

    def _apply(self, key: tuple[str, str, str], body: dict[str, Any], force: bool) -> dict[str, Any]:
        plural, namespace, _ = key
        if plural == "rolebindings" and namespace not in self.namespaces:
            raise ApiException(status=404, reason="Not Found")
        current = self.objects.get(key)
        if current is None:
            stored = json.loads(json.dumps(body))
            stored["metadata"]["uid"] = f"uid-{next(self.uids)}"
        else:
            if "roleRef" in current and current["roleRef"] != body.get("roleRef"):
                raise ApiException(status=422, reason="Invalid: roleRef is immutable")
            stored = {**current, **json.loads(json.dumps(body))}
            stored["metadata"] = {**body["metadata"], "uid": current["metadata"]["uid"]}
        self.objects[key] = stored
        return stored

    def _list(self, plural: str, namespace: str | None, selector: str) -> list[dict[str, Any]]:
        found = []
        for (p, ns, _), obj in self.objects.items():
            if p == plural and (namespace is None or ns == namespace) and _matches(obj, selector):
                found.append({k: v for k, v in obj.items() if k != "kind"})
        return found

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body["spec"]
        bound = spec["boundObjectRef"]
        secret = self.objects.get(("secrets", "support-operator", bound["name"]))
        assert secret is not None and secret["metadata"]["uid"] == bound["uid"], "bound to a live Secret"
        expires = dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC) + dt.timedelta(
            seconds=spec["expirationSeconds"]
        )
        jti = f"jti-{next(self.jtis)}"
        return {"status": {"token": fake_token(jti), "expirationTimestamp": expires.isoformat()}}


def _response(obj: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(data=json.dumps(obj).encode())


def _parse(path: str) -> tuple[str, str | None, str | None, str | None]:
    """(plural, namespace, name, subresource) of a REST path."""
    parts = path.strip("/").split("/")
    parts = parts[2:] if parts[0] == "api" else parts[3:]
    namespace = None
    if parts[0] == "namespaces":
        namespace, parts = parts[1], parts[2:]
    plural = parts[0]
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    return plural, namespace, name, sub


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True
