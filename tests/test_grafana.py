"""The Grafana dashboards and provisioning, checked offline (Grafana cannot run here).

Each dashboard is read into Grafana's own dashboard model (grafana-foundation-sdk,
generated from Grafana's schemas, with the panel and query types of the built-in
plugins) and written back: a field the model does not know is lost on the way,
which catches misspelt and misplaced keys. Every datasource and variable a
dashboard refers to must exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.deploy_files import DEPLOY, compose, dashboards, panels, sql_queries
from tests.grafana_sql import references, unquoted, variables_of

pytestmark = pytest.mark.unit

GRAFANA = DEPLOY / "grafana"
# Fields Grafana 11.6 (the compose image) writes that the SDK's model (Grafana 10.1)
# does not have yet (a variable's allowCustomValue came in 11.5); a dashboard's
# `id` is null until Grafana stores it.
NEWER_THAN_THE_MODEL = {"wideLayout", "showPercentChange", "definition", "allowCustomValue"}
# Panel types of Grafana's built-in panel plugins.
BUILT_IN_PANELS = {"stat", "timeseries", "table", "text", "gauge", "bargauge", "row"}
# Grafana's own variables and macros (in PromQL and SQL).
BUILT_IN_VARIABLES = {
    "__range",
    "__rate_interval",
    "__interval",
    "__timeFilter",
    "__timeGroupAlias",
    "__timeGroup",
    "__timeFrom",
    "__timeTo",
}


def lost_fields(given: Any, kept: Any, path: str = "") -> Iterator[str]:
    """Paths of the fields in `given` that are not in `kept` (or differ from it)."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            yield f"{path} (not an object in the model)"
            return
        for key, value in given.items():
            if key not in kept:
                if key not in NEWER_THAN_THE_MODEL and not (key == "id" and value is None):
                    yield f"{path}/{key}"
            else:
                yield from lost_fields(value, kept[key], f"{path}/{key}")
    elif isinstance(given, list):
        if not isinstance(kept, list) or len(given) != len(kept):
            yield f"{path} (not the same list in the model)"
            return
        for n, (a, b) in enumerate(zip(given, kept, strict=True)):
            yield from lost_fields(a, b, f"{path}[{n}]")
    elif given != kept:
        yield f"{path}: {given!r} read as {kept!r}"


def encode(value: Any) -> Any:
    return value.to_json() if hasattr(value, "to_json") else str(value)


def test_lost_fields_finds_unknown_and_changed_fields() -> None:
    given = {"a": 1, "b": {"c": [1, {"d": 2}]}, "id": None, "wideLayout": True}
    assert list(lost_fields(given, {"a": 1, "b": {"c": [1, {"d": 2}]}})) == []
    assert list(lost_fields(given, {"a": 2, "b": {"c": [1, {}]}})) == [
        "/a: 1 read as 2",
        "/b/c[1]/d",
    ]


@pytest.mark.parametrize(
    "path", sorted((GRAFANA / "dashboards").glob("*.json")), ids=lambda p: p.name
)
def test_dashboard_survives_grafanas_dashboard_model(path) -> None:
    register_default_plugins()  # panel options and queries by their plugin's model
    given = json.loads(path.read_text(encoding="utf-8"))
    kept = json.loads(json.dumps(Dashboard.from_json(given), default=encode))
    assert list(lost_fields(given, kept)) == []


def provisioned_datasources() -> dict[str, str]:
    """uid: type of every provisioned datasource."""
    text = (GRAFANA / "provisioning" / "datasources" / "etstats.yml").read_text()
    return {d["uid"]: d["type"] for d in yaml.safe_load(text)["datasources"]}


def datasource_refs(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every `datasource` field anywhere in a dashboard."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "datasource":
                yield f"{path}/{key}", inner
            else:
                yield from datasource_refs(inner, f"{path}/{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from datasource_refs(inner, f"{path}[{n}]")


def test_every_datasource_reference_names_a_provisioned_datasource_of_its_type() -> None:
    provisioned = provisioned_datasources()
    seen = 0
    for path, dashboard in dashboards():
        for where, ref in datasource_refs(dashboard):
            assert isinstance(ref, dict), f"{path.name}{where}: a name, not a uid"
            assert provisioned.get(str(ref.get("uid"))) == ref.get("type"), (
                f"{path.name}{where}: {ref}"
            )
            seen += 1
    assert seen > 40


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def test_every_variable_a_dashboard_uses_is_defined_and_every_one_defined_is_used() -> None:
    for path, dashboard in dashboards():
        variables = dashboard.get("templating", {}).get("list", [])
        defined = {v["name"] for v in variables}
        used: set[str] = set()
        for panel in panels(dashboard):
            for text in strings(panel):
                used |= {a or b for a, b in re.findall(r"\$\{(\w+)[^}]*\}|\$(\w+)", text)}
        assert used - defined - BUILT_IN_VARIABLES == set(), path.name
        assert defined - used == set(), f"{path.name}: variables no panel uses"
        for variable in variables:
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] in provisioned_datasources(), path.name


def test_no_variable_reaches_a_dashboards_sql_bare_nor_takes_values_it_does_not_offer() -> None:
    """A viewer may type any value into a variable, or put one in the URL
    (`?var-min_minutes=...`): in SQL it must stay a literal (`${name:sqlstring}`,
    cast where a number is meant; a multi-value variable is quoted by its data
    source), and the picker offers only the variable's own values."""
    checked = locked = 0
    for path, dashboard in dashboards():
        variables = variables_of(dashboard)
        in_sql: set[str] = set()
        for where, sql in sql_queries(path):
            assert unquoted(sql, variables) == [], where
            in_sql |= {name for name, _, _ in references(sql, variables)}
            checked += 1
        for variable in dashboard["templating"]["list"]:
            if variable["name"] in in_sql:
                assert variable.get("allowCustomValue") is False, f"{path.name}: {variable['name']}"
                locked += 1
    assert checked >= 20 and locked >= 4


def test_panels_are_built_in_laid_out_on_the_grid_and_query_ids_are_unique() -> None:
    for path, dashboard in dashboards():
        assert re.fullmatch(r"[\w-]{1,40}", dashboard["uid"]), path.name
        occupied: set[tuple[int, int]] = set()
        for panel in panels(dashboard):
            where = f"{path.name}: {panel.get('title')}"
            assert panel["type"] in BUILT_IN_PANELS, where
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
            cells = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & occupied, f"{where} overlaps another panel"
            occupied |= cells
            ref_ids = [t["refId"] for t in panel.get("targets", [])]
            assert len(ref_ids) == len(set(ref_ids)), where


def test_grafana_provisions_the_mounted_dashboards_and_its_home_exists() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(reversed(v.rsplit(":", 2)[:2]) for v in grafana["volumes"])
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "etstats.yml").read_text())
    [files] = provider["providers"]
    assert mounts[files["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA / "dashboards" / home.removeprefix(files["options"]["path"] + "/")).exists()


# Histograms observed once per file or post: a round comes every 5 to 15 minutes.
ONCE_PER_FILE = (
    "etstats_pipeline_latency_seconds",
    "etstats_poster_post_seconds",
    "etstats_handle_seconds",
    "etstats_fetcher_download_seconds",
    "etstats_storage_import_seconds",
    "etstats_parser_parse_seconds",
)
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def test_latency_panels_of_rounds_look_back_far_enough_not_to_go_blank_between_them() -> None:
    windows = []
    for path, dashboard in dashboards():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                for metric, n, unit in re.findall(
                    r"(\w+)_bucket\{?[^\[]*\[(\d+)([smhd])\]", target.get("expr", "")
                ):
                    if metric in ONCE_PER_FILE:
                        windows.append((f"{path.name}: {panel['title']}", int(n) * SECONDS[unit]))
    assert len(windows) >= 8
    assert [where for where, seconds in windows if seconds < 3600] == []
