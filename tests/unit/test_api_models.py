"""The API models, the CRDs generated from them and the samples: one source of truth, kept in sync."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from support_operator.api import crdgen
from support_operator.api import v1alpha1 as api

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
SAMPLE_FILES = sorted((CRD_DIR / "samples").glob("*.yaml"))
MODELS = {api.CONTRACT_KIND: api.SupportContract, api.CASE_KIND: api.SupportCase}

Schema = dict[str, Any]


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def is_subset(part: Any, whole: Any) -> bool:
    """True when every key/value of `part` appears in `whole` (the API adds defaults, never drops)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and is_subset(v, whole[k]) for k, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(part) == len(whole) and all(map(is_subset, part, whole))
    return bool(part == whole)


# --- samples and models -------------------------------------------------------------------------------


def test_there_is_a_contract_and_one_case_per_kind_of_case() -> None:
    kinds = [load(path)["kind"] for path in SAMPLE_FILES]
    assert kinds.count(api.CONTRACT_KIND) == 1
    cases = [
        api.SupportCase.model_validate(load(p)).spec for p in SAMPLE_FILES if load(p)["kind"] == api.CASE_KIND
    ]
    assert {(c.category, c.impact) for c in cases} == {
        (api.CaseCategory.INCIDENT, api.Impact.PRODUCTION),
        (api.CaseCategory.INCIDENT, api.Impact.NON_PRODUCTION),
        (api.CaseCategory.CONSULTATION, None),
    }


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_sample_loads_and_round_trips(path: Path) -> None:
    document = load(path)
    model = MODELS[document["kind"]].model_validate(document)
    dumped = model.to_json_dict()
    assert is_subset(document["spec"], dumped["spec"])
    assert MODELS[document["kind"]].model_validate(dumped) == model


def test_contract_sample_is_the_one_the_brief_describes() -> None:
    spec = api.SupportContract.model_validate(load(CRD_DIR / "samples" / "supportcontract.yaml")).spec
    assert len(spec.team) == 3
    assert all(api.Language.DE in member.languages for member in spec.team)
    assert spec.language == api.Language.DE
    assert spec.reaction_time == api.ReactionTime.TWO_HOURS
    assert spec.add_ons.pikett is not None and spec.add_ons.pikett.enabled
    packages = spec.add_ons.packages or []
    assert len(packages) == 2 and packages[0].expires_on != packages[1].expires_on
    assert spec.access is not None and spec.access.mode == api.AccessMode.PERSONAL
    assert spec.access.scope.namespace_selector is not None and spec.access.scope.namespaces is None


def test_python_names_and_json_names_are_both_accepted() -> None:
    by_name = api.AccessSpec(
        scope=api.AccessScope(namespaces=["app"]), token_ttl="30m", api_server_url="https://k8s"
    )
    by_alias = api.AccessSpec.model_validate(
        {"scope": {"namespaces": ["app"]}, "tokenTTL": "30m", "apiServerURL": "https://k8s"}
    )
    assert by_name == by_alias
    dumped = by_name.to_json_dict()
    assert dumped["tokenTTL"] == "30m" and dumped["apiServerURL"] == "https://k8s"
    assert dumped["baseRoles"] == ["support-readonly"] and "base_roles" not in dumped
    notification = api.Notification.model_validate(
        {"smtpSecretRef": {"name": "smtp", "namespace": "ops"}, "from": "support@puzzle.ch"}
    )
    assert notification.from_address == "support@puzzle.ch"
    assert notification.to_json_dict()["from"] == "support@puzzle.ch"


def test_unknown_fields_are_refused_so_typos_in_manifests_surface() -> None:
    spec = load(CRD_DIR / "samples" / "supportcase-consultation.yaml")["spec"]
    spec["reportedvia"] = "Phone"
    with pytest.raises(ValidationError, match="reportedvia"):
        api.SupportCaseSpec.model_validate(spec)


def test_defaults_are_the_offers() -> None:
    hours = api.SupportHours()
    assert hours.time_zone == "Europe/Zurich"
    assert hours.days == [api.Weekday.MON, api.Weekday.TUE, api.Weekday.WED, api.Weekday.THU, api.Weekday.FRI]
    assert [(i.start, i.end) for i in hours.intervals] == [("08:00", "17:00")]
    assert (hours.holidays.country, hours.holidays.subdivision) == ("CH", "BE")
    assert api.Billing().increment_minutes == 15
    # mutable defaults are not shared between instances
    hours.days.append(api.Weekday.SAT)
    assert api.SupportHours().days[-1] == api.Weekday.FRI


@pytest.mark.parametrize(
    ("duration", "minutes"),
    [(45, 45), (-30, -30), ("90", 90), ("1h30m", 90), ("2h", 120), ("45m", 45), ("-15m", -15), ("-1h", -60)],
)
def test_effort_duration_in_minutes(duration: int | str, minutes: int) -> None:
    entry = api.EffortEntry(
        id="e-1", member="anna", date=dt.date(2026, 11, 3), duration=duration, reason="fix"
    )
    assert entry.minutes() == minutes


@pytest.mark.parametrize("duration", ["1.5h", "1h30", "90s", "h", "-", "1d", "1m30h"])
def test_effort_duration_refuses_fractions_and_other_units(duration: str) -> None:
    with pytest.raises(ValidationError, match="effort duration must be whole minutes"):
        api.EffortEntry(id="e-1", member="anna", date=dt.date(2026, 11, 3), duration=duration)


@pytest.mark.parametrize("zone", ["Europe/Zurich", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+1"])
def test_time_zone_shape_accepts_iana_names(zone: str) -> None:
    assert api.SupportHours(time_zone=zone).time_zone == zone


@pytest.mark.parametrize("zone", ["Zurich", "europe/zurich", "Europe/Zurich/Old/Town", "CET ", "+01:00"])
def test_time_zone_shape_refuses_other_strings(zone: str) -> None:
    with pytest.raises(ValidationError, match="IANA time zone"):
        api.SupportHours(time_zone=zone)


def test_full_status_round_trips() -> None:
    at = dt.datetime(2026, 11, 3, 9, 40, tzinfo=dt.UTC)
    status = api.SupportContractStatus(
        observed_generation=3,
        conditions=[
            api.Condition(
                type="TeamStaffed",
                status=api.ConditionStatus.FALSE,
                reason="TooFewMembers",
                message="2 of 3 members",
                last_transition_time=at,
                observed_generation=3,
            )
        ],
        holidays=[api.Holiday(date=dt.date(2026, 12, 25), name="Weihnachten")],
        open_cases=api.OpenCases(p1=1, p3=2, total=3),
        team_size=2,
        platform=api.PlatformRecord(
            distribution=api.Distribution.OPENSHIFT,
            kubernetes_version="v1.33.4",
            openshift_version="4.20.3",
            detected_at=at,
        ),
        identities=[
            api.IdentityStatus(
                member="anna",
                kind=api.IdentityKind.SERVICE_ACCOUNT,
                service_account=api.NamespacedName(namespace="support-operator", name="sa"),
                token_expires_at=at,
            )
        ],
        packages=[
            api.PackageBalance(
                name="p1",
                purchased_minutes=2400,
                used_minutes=90,
                remaining_minutes=2310,
                expires_on=dt.date(2026, 12, 31),
            )
        ],
        months=[api.MonthlyUsage(month="2026-11", incident_minutes=90, package_minutes=90)],
        trainings=[api.TrainingObligation(member="anna", year=2026, days=1, fulfilled=True)],
        pending_knowledge_transfers=[api.PendingKnowledgeTransfer(member="luca", since=at)],
    )
    dumped = status.to_json_dict()
    assert dumped["conditions"][0]["lastTransitionTime"] == "2026-11-03T09:40:00Z"
    assert dumped["openCases"] == {"p1": 1, "p2": 0, "p3": 2, "total": 3}
    assert api.SupportContractStatus.model_validate(dumped) == status
    confirmation = api.ConfirmationStatus(sent_at=at, message_id="<1@x>", recipients=["a@b.ch"])
    assert confirmation.to_json_dict()["messageID"] == "<1@x>"


@pytest.mark.parametrize(
    "model",
    [api.SupportContractSpec, api.SupportContractStatus, api.SupportCaseSpec, api.SupportCaseStatus],
    ids=lambda model: model.__name__,
)
def test_docs_mention_every_top_level_field(model: type[api.ApiModel]) -> None:
    docs = (REPO / "docs" / "api.md").read_text()
    missing = [info.alias for info in model.model_fields.values() if f"`{info.alias}" not in docs]
    assert missing == []


# --- the generated CRDs -------------------------------------------------------------------------------


def test_committed_crds_are_generated_from_the_models() -> None:
    generated = {name: crdgen.render(crd) for name, crd in crdgen.build_crds().items()}
    committed = {path.name: path.read_text() for path in CRD_DIR.glob("*.yaml")}
    assert committed == generated, "crds/ is stale: run `.venv/bin/python -m support_operator.api.crdgen`"
    for text in committed.values():
        assert not re.search(r"[&*]id\d+", text), "YAML aliases: shared sub-schemas must be written in full"


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 1
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 0
    written = tmp_path / "support.puzzle.ch_supportcases.yaml"
    written.write_text(written.read_text().replace("maxItems: 200", "maxItems: 201"))
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 1
    assert "support.puzzle.ch_supportcases.yaml" in capsys.readouterr().err


CRDS = crdgen.build_crds()


def schema_of(crd: dict[str, Any]) -> Schema:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def walk(node: Schema, path: str = "", correlatable: bool = True) -> Iterator[tuple[str, Schema, bool]]:
    """Every schema node with its path and whether transition rules (oldSelf) can run there: the API
    server correlates old and new values only through object properties and map-keyed list items."""
    yield path, node, correlatable
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}", correlatable)
    if "items" in node:
        keyed = node.get("x-kubernetes-list-type") == "map"
        yield from walk(node["items"], f"{path}[]", correlatable and keyed)
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}", False)


# The envelope (apiVersion, kind, metadata) is validated by the API server itself.
ENVELOPE = (".apiVersion", ".kind", ".metadata")
ALL_NODES = [
    (f"{crd['spec']['names']['kind']}{path}", node, correlatable)
    for crd in CRDS.values()
    for path, node, correlatable in walk(schema_of(crd))
    if path not in ENVELOPE
]


def test_crd_metadata() -> None:
    contract = CRDS["support.puzzle.ch_supportcontracts.yaml"]["spec"]
    case = CRDS["support.puzzle.ch_supportcases.yaml"]["spec"]
    assert (contract["scope"], case["scope"]) == ("Cluster", "Namespaced")
    assert {"sctr", "supportcontract"} <= set(contract["names"]["shortNames"])
    assert "scase" in case["names"]["shortNames"]
    for spec in (contract, case):
        assert spec["group"] == api.GROUP
        assert spec["names"]["categories"] == ["support"]
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == (api.VERSION, True, True)
        assert version["subresources"] == {"status": {}}
    assert [
        c["name"] for c in contract["versions"][0]["additionalPrinterColumns"] if not c.get("priority")
    ] == ["Customer", "Reaction", "Team", "Ready", "Age"]
    assert [c["name"] for c in case["versions"][0]["additionalPrinterColumns"] if not c.get("priority")] == [
        "Priority",
        "State",
        "Deadline",
        "SLA",
        "Findings",
        "Age",
    ]


def resolve_json_path(schema: Schema, json_path: str) -> Schema:
    """Follows `.a.b[?(@.type=="Ready")].c` through the schema; fails on a path the schema lacks."""
    node = schema
    for part in re.sub(r"\[\?\(@\.[^)]*\)\]", ".[]", json_path).strip(".").split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


@pytest.mark.parametrize("file_name", sorted(CRDS))
def test_printer_columns_and_selectable_fields_point_at_real_fields(file_name: str) -> None:
    version = CRDS[file_name]["spec"]["versions"][0]
    schema = copy.deepcopy(schema_of(CRDS[file_name]))
    schema["properties"]["metadata"]["properties"] = {"creationTimestamp": {"type": "string"}}
    for column in version["additionalPrinterColumns"]:
        target = resolve_json_path(schema, column["jsonPath"])
        assert target["type"] == column["type"] or column["type"] == "date", column
    for selectable in version.get("selectableFields", []):
        assert resolve_json_path(schema, selectable["jsonPath"])["type"] in ("string", "integer", "boolean")


@pytest.mark.parametrize(("path", "node", "correlatable"), ALL_NODES, ids=[n[0] for n in ALL_NODES])
def test_schema_node_is_structural_and_bounded(path: str, node: Schema, correlatable: bool) -> None:
    assert not {"$ref", "anyOf", "allOf", "oneOf", "not", "title", "const", "$defs"} & node.keys()
    assert "type" in node or node.get("x-kubernetes-int-or-string") is True
    if node.get("type") == "string" or node.get("x-kubernetes-int-or-string"):
        assert "maxLength" in node
    if node.get("type") == "array":
        assert "maxItems" in node and "items" in node
        if node.get("x-kubernetes-list-type") == "map":
            item = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in item.get("required", []) or "default" in item["properties"][key]
        if node.get("x-kubernetes-list-type") == "set":
            assert node["items"]["type"] in ("string", "integer")
    if node.get("type") == "object":
        assert "properties" in node or "maxProperties" in node
        assert node.get("additionalProperties") is not False
        for required in node.get("required", []):
            assert required in node["properties"]
    if "description" not in node:
        assert path.count(".") <= 1 or path.endswith("[]") or path.endswith("{}"), "fields need descriptions"


# --- CEL rules ----------------------------------------------------------------------------------------

RULES = [
    (path, node, correlatable, rule)
    for path, node, correlatable in ALL_NODES
    for rule in node.get("x-kubernetes-validations", [])
]
MACROS = ("all", "exists", "exists_one", "map", "filter")
PYTHONISMS = re.compile(r"\b(and|or|not|None|True|False|len|is)\b|!==|===")


def strip_strings(expression: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", expression)


def balanced(expression: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for char in strip_strings(expression):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def field_references(rule: str, node: Schema) -> list[str]:
    """The dotted field paths the rule reads, resolved against the schema; returns the unresolvable ones."""
    code = strip_strings(rule)
    variables: dict[str, Schema] = {"self": node, "oldSelf": node}
    # Comprehension variables: `self.intervals.all(a, ...)` binds `a` to an item of self.intervals.
    for target, _macro, variable in re.findall(
        r"([A-Za-z_][\w.]*)\.(" + "|".join(MACROS) + r")\(\s*(\w+)\s*,", code
    ):
        owner = resolve(target, variables)
        if owner is not None and "items" in owner:
            variables[variable] = owner["items"]
    unresolved = []
    for reference in re.findall(r"\b((?:self|oldSelf|[a-z]\w*)(?:\.\w+)+)\b(?!\s*\()", code):
        if reference.split(".")[0] in variables and resolve(reference, variables) is None:
            unresolved.append(reference)
    return unresolved


def resolve(reference: str, variables: dict[str, Schema]) -> Schema | None:
    head, *fields = reference.split(".")
    node: Schema | None = variables.get(head)
    for name in fields:
        if node is None:
            return None
        if name in MACROS or name in ("size", "matches", "startsWith"):
            return node
        if node.get("type") == "object" and "properties" not in node:
            return node  # opaque (metadata) or a map: any key may exist
        node = node.get("properties", {}).get(name)
    return node


def test_there_are_cel_rules_and_transition_rules() -> None:
    assert len(RULES) >= 20
    assert sum("oldSelf" in rule["rule"] for *_, rule in RULES) >= 6


@pytest.mark.parametrize(
    ("path", "node", "correlatable", "rule"), RULES, ids=[f"{r[0]}:{r[3]['rule'][:40]}" for r in RULES]
)
def test_cel_rule_is_plausible(path: str, node: Schema, correlatable: bool, rule: dict[str, str]) -> None:
    expression = rule["rule"]
    assert rule.get("message", "").strip(), "every rule needs a human-readable message"
    assert set(rule) <= {"rule", "message", "fieldPath", "reason", "messageExpression", "optionalOldSelf"}
    assert balanced(expression), "unbalanced brackets"
    assert expression.count("'") % 2 == 0, "unbalanced quotes"
    assert '"' not in expression, "CEL string literals here use single quotes"
    assert "self" in expression
    assert not PYTHONISMS.search(strip_strings(expression)), "Python, not CEL"
    assert not re.search(r"(&&|\|\|)\s*$|^\s*(&&|\|\|)", expression)
    assert field_references(expression, node) == []
    if "oldSelf" in expression:
        assert correlatable, f"transition rule at {path} can never run: old and new values do not correlate"
    if "fieldPath" in rule:
        assert resolve("self" + rule["fieldPath"], {"self": node}) is not None
    for pattern in re.findall(r"matches\('([^']*)'\)", expression):
        re.compile(pattern)


def test_rule_checks_catch_typical_mistakes() -> None:
    interval = {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}}
    assert field_references("self.start < self.end", interval) == []
    assert field_references("self.strat < self.end", interval) == ["self.strat"]
    intervals = {"type": "array", "items": interval}
    assert field_references("self.all(a, a.start < a.ned)", intervals) == ["a.ned"]
    assert not balanced("has(self.a) && (self.b")
    assert PYTHONISMS.search("self.a and self.b")
    nodes = list(walk({"type": "array", "items": interval, "x-kubernetes-list-type": "atomic"}))
    assert [correlatable for _, _, correlatable in nodes] == [True, False, False, False]
    keyed = list(walk({"type": "array", "items": interval, "x-kubernetes-list-type": "map"}))
    assert [correlatable for _, _, correlatable in keyed] == [True, True, True, True]
