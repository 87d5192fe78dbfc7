"""Grafana-managed copies of Prometheus alert rules, as Grafana alerting file provisioning.

Each rule becomes query A (the rule's PromQL, instant, against the Prometheus data source) and
condition B, "A > 0": the series the PromQL returns fire, as they do in Prometheus. This holds for
rules whose firing values are positive, as all rules shipped and generated here are.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from otel_ai_cost.alerting.prometheus import Rule, RuleFile, RulesError

_VALUE = re.compile(r"\$value\b")
_UID_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")
MAX_UID_LENGTH = 40


def grafana_alert_provisioning(
    rules: RuleFile, *, datasource_uid: str = "prometheus", folder: str = "otel-ai-cost", org_id: int = 1
) -> dict[str, Any]:
    """The Grafana alerting provisioning document (apiVersion 1) for the alert rules of `rules`."""
    alert_names = [rule.alert for group in rules.groups for rule in group.rules]
    groups = []
    for group in rules.groups:
        converted = []
        for index, rule in enumerate(group.rules):
            if rule.alert is None:
                raise RulesError(f"group {group.name!r} rule {index}: recording rule {rule.record!r} is not an alert")
            title = rule.alert if alert_names.count(rule.alert) == 1 else _distinct_title(rule)
            converted.append(_rule(group.name, rule, title, datasource_uid))
        groups.append(
            {
                "orgId": org_id,
                "name": group.name,
                "folder": folder,
                "interval": group.interval or "1m",
                "rules": converted,
            }
        )
    return {"apiVersion": 1, "groups": groups}


def _rule(group: str, rule: Rule, title: str, datasource_uid: str) -> dict[str, Any]:
    return {
        "uid": _uid(group, title),
        "title": title,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": datasource_uid,
                "model": {"refId": "A", "expr": rule.expr, "instant": True, "range": False},
            },
            {
                "refId": "B",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [{"evaluator": {"type": "gt", "params": [0]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": rule.for_ or "0s",
        "annotations": {key: _VALUE.sub("$values.A.Value", text) for key, text in rule.annotations.items()},
        "labels": dict(rule.labels),
        "isPaused": False,
    }


def _distinct_title(rule: Rule) -> str:
    # Grafana wants titles unique within a folder; generated budget rules share alert names.
    detail = ", ".join(f"{key}={value}" for key, value in sorted(rule.labels.items()) if key != "severity")
    return f"{rule.alert} ({detail})" if detail else str(rule.alert)


def _uid(group: str, title: str) -> str:
    digest = hashlib.sha256(f"{group}\0{title}".encode()).hexdigest()[:10]
    readable = _UID_UNSAFE.sub("-", title.lower()).strip("-")
    return f"{readable[: MAX_UID_LENGTH - len(digest) - 1]}-{digest}"
