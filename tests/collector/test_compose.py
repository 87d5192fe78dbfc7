"""collector/docker-compose.yaml mounts exactly the files the other tests check, and fits together.

No Docker engine runs here, so the stack itself is not started; what can be checked offline is: every
mounted file exists, every tested file is mounted, Prometheus's config (promtool, with the mounted
rule files) is valid, the Grafana provisioning points at what is mounted, and the environment the
compose file gives the collector is the one its config reads.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COLLECTOR = REPO / "collector"
COMPOSE = yaml.safe_load((COLLECTOR / "docker-compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
_ENV_REFERENCE = re.compile(r"\$\{(?:env:)?([A-Z_][A-Z0-9_]*)(:-[^}]*)?\}")


def mounts(service: str) -> dict[str, Path]:
    """Container path -> file in the repository."""
    result = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        result[target] = (COLLECTOR / source).resolve()
    return result


def test_every_mounted_file_exists() -> None:
    for service in SERVICES:
        for target, source in mounts(service).items():
            assert source.is_file(), f"{service}: {source} (for {target}) does not exist"


def test_every_tested_file_is_mounted() -> None:
    mounted = {source for service in SERVICES for source in mounts(service).values()}
    tested = {
        COLLECTOR / "otelcol-config.yaml",
        *(REPO / "dashboards").glob("*.json"),
        *(REPO / "dashboards" / "alerts").glob("*.rules.yaml"),
        *(REPO / "dashboards" / "alerts").glob("*.grafana.yaml"),
    }
    assert len(tested) >= 8
    assert tested <= mounted, sorted(str(path.relative_to(REPO)) for path in tested - mounted)


def test_images_are_pinned_and_the_collector_is_the_validated_version() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version"
    assert SERVICES["otel-collector"]["image"] == "otel/opentelemetry-collector-contrib:0.159.0"


def test_the_collector_runs_the_mounted_config_with_the_environment_it_reads() -> None:
    service = SERVICES["otel-collector"]
    config_arg = next(arg for arg in service["command"] if arg.startswith("--config="))
    config_file = mounts("otel-collector")[config_arg.removeprefix("--config=")]
    assert config_file == COLLECTOR / "otelcol-config.yaml"
    referenced = {name: default for name, default in _ENV_REFERENCE.findall(config_file.read_text())}
    given = set(service["environment"])
    assert given <= set(referenced), f"set but never read: {given - set(referenced)}"
    assert {name for name, default in referenced.items() if not default} <= given, "a variable without default"
    endpoint = service["environment"]["PROMETHEUS_REMOTE_WRITE_URL"]
    assert endpoint == "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in SERVICES["prometheus"]["command"]


def test_prometheus_config_and_mounted_rules_pass_promtool(promtool_path: str, tmp_path: Path) -> None:
    config = yaml.safe_load((COLLECTOR / "prometheus.yml").read_text())
    rule_mounts = {target: source for target, source in mounts("prometheus").items() if "/rules/" in target}
    assert config["rule_files"] == ["/etc/prometheus/rules/*.rules.yaml"]
    assert rule_mounts and all(Path(target).match("/etc/prometheus/rules/*.rules.yaml") for target in rule_mounts)
    config["rule_files"] = [str(source) for source in rule_mounts.values()]  # where they are on this machine
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))
    result = subprocess.run([promtool_path, "check", "config", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_mounts)} rule files found" in result.stdout


def test_grafana_provisioning_points_at_what_is_mounted() -> None:
    grafana = mounts("grafana")
    datasources = yaml.safe_load((COLLECTOR / "grafana" / "datasources.yaml").read_text())["datasources"]
    prometheus_uid = next(source["uid"] for source in datasources if source["type"] == "prometheus")
    for target, source in grafana.items():
        if target.startswith("/etc/grafana/provisioning/alerting/"):
            rules = yaml.safe_load(source.read_text())
            uids = {
                data["datasourceUid"] for group in rules["groups"] for rule in group["rules"] for data in rule["data"]
            }
            assert uids == {prometheus_uid, "__expr__"}, source
    provider = yaml.safe_load((COLLECTOR / "grafana" / "dashboards.yaml").read_text())["providers"][0]
    dashboard_targets = [target for target in grafana if target.endswith(".json")]
    assert len(dashboard_targets) == 3
    assert all(Path(target).parent == Path(provider["options"]["path"]) for target in dashboard_targets)
