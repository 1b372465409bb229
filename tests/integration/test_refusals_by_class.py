"""Refusals by class, generated from the models: every spec field with an enum, a size limit, a pattern, a
format, a numeric bound or one of our CEL format rules gets an invalid value on the real API server (server
side dry run), and the refusal must name the field, say what is wrong, and never speak CEL internals.
Immutable fields and state transitions are covered by test_crd_validation's hand-written table."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from support_operator.api import crdgen
from support_operator.api import v1alpha1 as api

SAMPLES = Path(__file__).resolve().parents[2] / "crds" / "samples"
# The API server appends "<nil>: ... some validation rules were not checked" itself when a schema keyword
# failed; that is its wording, not a rule of ours speaking CEL.
CEL_INTERNALS = ("type conversion", "protobuf", "modulus by zero", "no such key", "no such overload")
Obj = dict[str, Any]
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Refusal:
    kind: str  # contract | case
    path: Path_
    constraint: str
    value: Any
    expected: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{'.'.join(str(p) for p in self.path)}:{self.constraint}"

    @property
    def field(self) -> str:
        text = "spec"
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text


def _not_matching(pattern: str, length: int) -> str:
    """A value of `length` characters that `pattern` refuses (IMAP folder names, say, may well hold `!`)."""
    for char in ("!", "\x01", '"', " "):
        if not re.search(pattern, char * length):
            return char * length
    raise AssertionError(f"no candidate value breaks the pattern {pattern!r}")


def _bad_values(schema: Obj) -> Iterator[tuple[str, Any, str]]:
    """(constraint, invalid value, text the API server's message must contain) for a leaf schema."""
    kind = schema.get("type")
    # Within the length limits: the API server reports a length error instead of the pattern's.
    wrong = "!" * max(schema.get("minLength", 1), min(schema.get("maxLength", 15), 15))
    if "enum" in schema:
        yield "enum", "NotOneOfThem", "Unsupported value"
    if kind == "string":
        if "maxLength" in schema:
            yield "maxLength", "a" * (schema["maxLength"] + 1), "Too long"
        if schema.get("minLength", 0) > 1:
            yield "minLength", "a", "should be at least"
        if "pattern" in schema:
            yield "pattern", _not_matching(schema["pattern"], len(wrong)), "should match"
        if schema.get("format") in ("date", "date-time"):
            yield "format", "not-a-date", "must be of type"
        for rule in schema.get("x-kubernetes-validations", []):
            if re.fullmatch(r"self\.matches\('.*'\)", rule["rule"]):
                yield "cel-format", wrong, rule["message"]
    if kind == "integer":
        if "minimum" in schema:
            yield "minimum", schema["minimum"] - 1, "greater than or equal to"
        if "maximum" in schema:
            yield "maximum", schema["maximum"] + 1, "less than or equal to"


def _leaves(schema: Obj, path: Path_ = ()) -> Iterator[tuple[Path_, Obj]]:
    if schema.get("type") == "object" and "properties" in schema:
        for name, child in schema["properties"].items():
            yield from _leaves(child, (*path, name))
    elif schema.get("type") == "array":
        yield path, schema  # the list itself (maxItems)
        yield from _leaves(schema["items"], (*path, 0))
    elif not schema.get("x-kubernetes-int-or-string"):
        yield path, schema


def refusals(kind: str, resource: crdgen.ResourceDefinition) -> list[Refusal]:
    found = []
    for path, schema in _leaves(crdgen.structural_schema(resource.spec_model)):
        if schema.get("type") == "array" and "maxItems" in schema:
            found.append(Refusal(kind, path, "maxItems", schema["maxItems"] + 1, "Too many"))
            continue
        found += [Refusal(kind, path, c, v, text) for c, v, text in _bad_values(schema)]
    return found


REFUSALS = refusals("contract", crdgen.SUPPORT_CONTRACT) + refusals("case", crdgen.SUPPORT_CASE)


def _set(spec: Obj, path: Path_, value: Any, constraint: str) -> None:
    """Sets the value at `path`, creating missing parents; for maxItems, a list one longer than allowed."""
    node: Any = spec
    for part, following in itertools.pairwise(path):
        empty: Any = [{}] if isinstance(following, int) else {}
        if isinstance(part, int):
            if not node:
                node.append(empty)
            node = node[part]
        else:
            node = node.setdefault(part, empty)
            if isinstance(following, int) and not node:
                node.append({})
    last = path[-1]
    if constraint == "maxItems":
        existing = node.get(last) if isinstance(node, dict) else None
        item = copy.deepcopy(existing[0]) if existing else "x"
        value = [copy.deepcopy(item) for _ in range(value)]
    if isinstance(last, int):
        if not node:
            node.append(value)
        node[last] = value
    else:
        node[last] = value


# Optional objects with required fields of their own: a refusal inside one starts from a valid instance, so
# the only error is the one under test.
VALID_PARENTS: dict[Path_, Obj] = {
    ("intake", "email"): {
        "host": "imap.example.com",
        "credentialsSecretRef": {"name": "mailbox", "namespace": "support-operator"},
        "namespace": "intake",
    },
}


def _with_valid_parents(spec: Obj, path: Path_) -> None:
    for parent, valid in VALID_PARENTS.items():
        if path[: len(parent)] == parent:
            node = spec
            for part in parent[:-1]:
                node = node.setdefault(part, {})
            node.setdefault(parent[-1], copy.deepcopy(valid))


def _sample(kind: str, namespace: str) -> Obj:
    name = "supportcontract.yaml" if kind == "contract" else "supportcase-production-incident.yaml"
    obj: Obj = yaml.safe_load((SAMPLES / name).read_text())
    obj["metadata"] = {"name": f"refusal-{namespace}"[:63]} if kind == "contract" else {"name": "refusal"}
    return obj


@pytest.fixture(scope="module")
def refusal_namespace(control_plane: Any, crds: list[str]) -> Iterator[str]:
    name = "t-refusals-by-class"
    control_plane.kubectl("create", "namespace", name, check=False)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_every_constrained_class_is_generated() -> None:
    classes = {r.constraint for r in REFUSALS}
    assert {
        "enum",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "maxItems",
        "cel-format",
    } <= classes
    assert len(REFUSALS) > 100


def test_the_samples_are_accepted(api_client: client.ApiClient, refusal_namespace: str) -> None:
    objects = client.CustomObjectsApi(api_client)
    objects.create_cluster_custom_object(
        api.GROUP, api.VERSION, api.CONTRACT_PLURAL, _sample("contract", refusal_namespace), dry_run="All"
    )
    objects.create_namespaced_custom_object(
        api.GROUP,
        api.VERSION,
        refusal_namespace,
        api.CASE_PLURAL,
        _sample("case", refusal_namespace),
        dry_run="All",
    )


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: r.id)
def test_an_invalid_value_is_refused_in_our_words(
    api_client: client.ApiClient, refusal_namespace: str, refusal: Refusal
) -> None:
    objects = client.CustomObjectsApi(api_client)
    obj = _sample(refusal.kind, refusal_namespace)
    _with_valid_parents(obj["spec"], refusal.path)
    _set(obj["spec"], refusal.path, refusal.value, refusal.constraint)
    with pytest.raises(ApiException) as raised:
        if refusal.kind == "contract":
            objects.create_cluster_custom_object(
                api.GROUP, api.VERSION, api.CONTRACT_PLURAL, obj, dry_run="All"
            )
        else:
            objects.create_namespaced_custom_object(
                api.GROUP, api.VERSION, refusal_namespace, api.CASE_PLURAL, obj, dry_run="All"
            )
    message = str(json.loads(raised.value.body).get("message", ""))
    assert raised.value.status == 422, message
    assert refusal.expected in message, message
    assert re.sub(r"\[\d+\]", "", refusal.field).split(".")[-1] in message, message
    assert not [leak for leak in CEL_INTERNALS if leak in message], message
