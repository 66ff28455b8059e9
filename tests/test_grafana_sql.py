"""The SQL the tests send for a dashboard query is the SQL Grafana would send:
its variable formatting and its PostgreSQL macros, case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.grafana_sql import (
    ALL,
    MacroError,
    Variable,
    defaults_of,
    expand_macros,
    grafana_sql,
    interpolate,
    rfc3339,
    unquoted,
    variables_of,
)

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
END = datetime(2026, 11, 22, 21, 30, 0, 250_000, tzinfo=UTC)
SOURCE = Variable("source", multi=True, include_all=True, options=("main", "o'brien"))
METRIC = Variable("metric", options=("kills", "kd"))
GAP = Variable("session_gap", options=("30", "60"))
CUSTOM_ALL = Variable("source", multi=True, include_all=True, all_value="SELECT name FROM sources")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 20, 22, 0, tzinfo=UTC), "2026-11-20T22:00:00Z"),
        (datetime(2026, 11, 20, 22, 0, 0, 250_000, tzinfo=UTC), "2026-11-20T22:00:00.25Z"),
        (datetime(2026, 11, 20, 22, 0, 0, 1, tzinfo=UTC), "2026-11-20T22:00:00.000001Z"),
        (  # Grafana sends the range in UTC, whatever the browser's zone
            datetime(2026, 11, 20, 23, 0, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-20T22:00:00Z",
        ),
    ],
)
def test_range_ends_are_written_as_gos_rfc3339_nano_in_utc(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


@pytest.mark.parametrize(
    ("sql", "sent"),
    [
        (
            "WHERE $__timeFilter(r.stamp)",
            "WHERE r.stamp BETWEEN '2026-11-20T22:00:00Z' AND '2026-11-22T21:30:00.25Z'",
        ),
        ("SELECT $__timeFrom()::timestamp", "SELECT '2026-11-20T22:00:00Z'::timestamp"),
        ("SELECT $__timeTo()", "SELECT '2026-11-22T21:30:00.25Z'"),
        (
            "SELECT $__timeGroupAlias(stamp, '1d'), 1",
            'SELECT floor(extract(epoch from stamp)/86400)*86400 AS "time", 1',
        ),
        (
            "SELECT $__timeGroupAlias(stamp,'5m')",
            'SELECT floor(extract(epoch from stamp)/300)*300 AS "time"',
        ),
        (  # used as the first column: Grafana adds the alias, as before 5.3
            "SELECT $__timeGroup(stamp, '1h'), count(*)",
            'SELECT floor(extract(epoch from stamp)/3600)*3600 AS "time", count(*)',
        ),
        (
            "GROUP BY $__timeGroup(stamp, '1w')",
            "GROUP BY floor(extract(epoch from stamp)/604800)*604800",
        ),
        ("SELECT $__time(at)", 'SELECT at AS "time"'),
        ("SELECT $__timeEpoch(at)", 'SELECT extract(epoch from at) as "time"'),
        ("SELECT '$1' AS dollar", "SELECT '$1' AS dollar"),  # not a macro call
    ],
)
def test_macros_expand_as_grafanas_postgresql_data_source_does(sql: str, sent: str) -> None:
    assert expand_macros(sql, START, END) == sent


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("WHERE $__timeFiltr(stamp)", "unknown macro '__timeFiltr'"),
        ("WHERE $__timeFilter()", "missing time column"),
        ("SELECT $__timeGroup(stamp)", "needs time column and interval"),
        ("SELECT $__timeGroup(stamp, 'often')", "error parsing interval 'often'"),
        ("WHERE $source(x)", "unknown macro 'source'"),  # a variable never replaced
    ],
)
def test_a_macro_grafana_refuses_is_refused(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand_macros(sql, START, END)


@pytest.mark.parametrize(
    ("variable", "value", "sent"),
    [
        (SOURCE, ["main"], "'main'"),
        (SOURCE, ["main", "o'brien"], "'main','o''brien'"),
        (SOURCE, "main", "'main'"),  # one value of a multi-value variable: still quoted
        (SOURCE, ALL, "'main','o''brien'"),  # All: every value it offers
        (SOURCE, [ALL], "'main','o''brien'"),
        (CUSTOM_ALL, [ALL], "SELECT name FROM sources"),  # a custom all value: as written
        (CUSTOM_ALL, ["main"], "'main'"),
        (METRIC, "kd", "kd"),  # a single-value variable goes in as it is
        (METRIC, "it's", "it''s"),  # its quotes doubled
    ],
)
def test_variables_are_formatted_as_the_sql_data_sources_format_them(
    variable: Variable, value: str | list[str], sent: str
) -> None:
    for written in (f"${variable.name}", f"${{{variable.name}}}", f"[[{variable.name}]]"):
        assert interpolate(
            f"x IN ({written})", {variable.name: variable}, {variable.name: value}
        ) == (f"x IN ({sent})")


@pytest.mark.parametrize(
    ("variable", "value", "sent"),
    [
        (METRIC, "kd", "'kd'"),
        (GAP, "60", "'60'"),
        (METRIC, "it's", "'it''s'"),  # single quotes doubled
        (METRIC, "x' OR pg_sleep(5) IS NULL --", "'x'' OR pg_sleep(5) IS NULL --'"),
        (METRIC, 'say "hi"', "'say \\\"hi\\\"'"),  # double quotes as \", as Grafana's dashboards
        (METRIC, "a\\'b", "'a\\''b'"),  # a backslash is no escape in a standard string
        (METRIC, "", "''"),
        (SOURCE, ["main", "o'brien"], "'main','o''brien'"),
        (SOURCE, "main", "'main'"),
        (SOURCE, ALL, "'main','o''brien'"),  # All: every value it offers, each quoted
        (CUSTOM_ALL, [ALL], "SELECT name FROM sources"),  # a custom all value: as written
    ],
)
def test_the_sqlstring_format_makes_each_value_one_quoted_literal(
    variable: Variable, value: str | list[str], sent: str
) -> None:
    for written in (f"${{{variable.name}:sqlstring}}", f"[[{variable.name}:sqlstring]]"):
        assert interpolate(
            f"x IN ({written})", {variable.name: variable}, {variable.name: value}
        ) == (f"x IN ({sent})")


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("WHERE m >= $session_gap", ["$session_gap"]),  # a single value goes in bare
        ("CASE '$metric' WHEN", ["$metric"]),  # quoted by hand: safe only while quotes are doubled
        ("mins => ${session_gap}::int", ["${session_gap}"]),
        ("mins => ${session_gap:raw}::int, [[metric]]", ["${session_gap:raw}", "[[metric]]"]),
        ("s IN (${source:csv})", ["${source:csv}"]),  # a format that does not quote
        ("s IN (${source:raw})", ["${source:raw}"]),
        ("mins => ${session_gap:sqlstring}::int", []),
        ("CASE ${metric:sqlstring} WHEN", []),
        ("[[metric:sqlstring]]", []),
        ("s IN ($source) AND t IN (${source}) AND u IN ([[source]])", []),  # quoted by its source
        ("s IN (${source:sqlstring})", []),
        ("$__timeFilter(stamp) AND $other", []),  # not the dashboard's variables
    ],
)
def test_references_whose_value_would_reach_sql_bare_are_found(sql: str, found: list[str]) -> None:
    variables = {"source": SOURCE, "metric": METRIC, "session_gap": GAP}
    assert unquoted(sql, variables) == found


def test_grafanas_own_variables_and_unknown_names_are_left_to_the_server() -> None:
    sql = "SELECT $__timeFrom(), $__interval, $other FROM t WHERE s IN ($source)"
    assert interpolate(sql, {"source": SOURCE}, {"source": ["main"]}) == (
        "SELECT $__timeFrom(), $__interval, $other FROM t WHERE s IN ('main')"
    )


def test_a_variable_format_is_refused_rather_than_guessed() -> None:
    with pytest.raises(MacroError, match="formats"):
        interpolate("${source:csv}", {"source": SOURCE}, {"source": ["main"]})


def test_variables_before_macros() -> None:
    sql = "SELECT '$metric' WHERE r.source IN ($source) AND $__timeFilter(r.stamp)"
    assert grafana_sql(
        sql, START, END, {"source": SOURCE, "metric": METRIC}, {"source": ALL, "metric": "kd"}
    ) == (
        "SELECT 'kd' WHERE r.source IN ('main','o''brien') AND r.stamp BETWEEN"
        " '2026-11-20T22:00:00Z' AND '2026-11-22T21:30:00.25Z'"
    )


def test_a_dashboards_variables_and_their_defaults_are_read_from_its_json() -> None:
    dashboard = {
        "templating": {
            "list": [
                {
                    "name": "metric",
                    "type": "custom",
                    "current": {"text": "K/D", "value": "kd"},
                    "options": [
                        {"text": "Kills", "value": "kills"},
                        {"text": "K/D", "value": "kd"},
                    ],
                },
                {
                    "name": "source",
                    "type": "query",
                    "multi": True,
                    "includeAll": True,
                    "allValue": "SELECT name FROM sources",
                    "current": {"text": ["All"], "value": [ALL]},
                    "options": [],
                },
            ]
        }
    }
    assert variables_of(dashboard) == {"metric": METRIC, "source": CUSTOM_ALL}
    assert defaults_of(dashboard) == {"metric": "kd", "source": [ALL]}


def literals(sent: str) -> list[str]:
    """The SQL string literals a comma-separated list of them holds, read as
    PostgreSQL reads a standard string (only a doubled quote is an escape)."""
    found = []
    rest = sent
    while rest:
        assert rest.startswith("'")
        end = 1
        while True:
            end = rest.index("'", end)
            if rest[end + 1 : end + 2] == "'":
                end += 2
                continue
            break
        found.append(rest[1:end].replace("''", "'"))
        rest = rest[end + 1 :]
        if rest:
            assert rest.startswith(",")
            rest = rest[1:]
    return found


@given(st.lists(st.text(min_size=1), min_size=1, max_size=5))
def test_any_chosen_sources_reach_sql_as_exactly_those_literals(values: list[str]) -> None:
    """Whatever the names, each is one SQL string literal holding exactly it."""
    assert literals(interpolate("$source", {"source": SOURCE}, {"source": values})) == values


@given(st.text(), st.lists(st.text(), min_size=1, max_size=5))
def test_any_value_in_sqlstring_reaches_sql_as_literals_and_nothing_else(
    value: str, values: list[str]
) -> None:
    """Whatever is typed or put in the URL: literals only (a double quote reads \\")."""
    sent = interpolate("${metric:sqlstring}", {"metric": METRIC}, {"metric": value})
    assert literals(sent) == [value.replace('"', '\\"')]
    sent = interpolate("${source:sqlstring}", {"source": SOURCE}, {"source": values})
    assert literals(sent) == [v.replace('"', '\\"') for v in values]
