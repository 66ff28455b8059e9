"""The SQL Grafana sends PostgreSQL for a dashboard query, made here without Grafana.

Grafana makes it in two steps. The browser replaces the dashboard's variables
(the SQL data sources' own formatting: a multi-value or include-all variable
becomes a list of quoted literals, any other value goes in as it is, quotes
doubled; or, written `${name:sqlstring}`, each value a quoted literal), then
the server expands the macros (`$__timeFilter(col)` and the
others of its PostgreSQL data source), turning the range's ends into RFC 3339
UTC literals. Anything still written like a macro is an error there, as here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ALL = "$__all"
# A variable as $name, ${name}, ${name:format} or [[name]] (Grafana's variable regex).
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
# A macro call, as Grafana's PostgreSQL data source finds them: no ')' inside.
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown, or its arguments wrong)."""


@dataclass(frozen=True)
class Variable:
    """What Grafana needs of a dashboard variable to put its value into SQL."""

    name: str
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    options: tuple[str, ...] = ()  # every value it offers (for "All")


def variables_of(dashboard: Mapping[str, Any]) -> dict[str, Variable]:
    """The dashboard's variables; a query variable's options are those of its JSON
    until `with_options` gives it the ones its query returned."""
    found = {}
    for v in dashboard.get("templating", {}).get("list", []):
        options = tuple(str(o["value"]) for o in v.get("options", []))
        found[v["name"]] = Variable(
            v["name"], bool(v.get("multi")), bool(v.get("includeAll")), v.get("allValue"), options
        )
    return found


def defaults_of(dashboard: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Each variable's value as the dashboard opens."""
    return {
        v["name"]: v["current"]["value"] for v in dashboard.get("templating", {}).get("list", [])
    }


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sqlstring(values: Sequence[str]) -> str:
    """Grafana's `sqlstring` format (that of its dashboards since 11, from Scenes):
    each value a literal as above, but its double quotes written \\" as well."""
    return ",".join(_literal(v.replace('"', '\\"')) for v in values)


FORMATS = ("sqlstring",)  # the variable formats made here


def _formatted(variable: Variable, value: str | Sequence[str], fmt: str | None = None) -> str:
    """The SQL data sources' interpolateVariable (or the format written), after
    "All" is resolved."""
    if value == ALL or (not isinstance(value, str) and ALL in value):
        if variable.all_value is not None:
            return variable.all_value  # a custom all value goes in unformatted
        value = list(variable.options)
    if fmt == "sqlstring":
        return _sqlstring([value] if isinstance(value, str) else value)
    if isinstance(value, str):
        if not (variable.multi or variable.include_all):
            return value.replace("'", "''")
        value = [value]
    return ",".join(_literal(v) for v in value)


def interpolate(
    sql: str, variables: Mapping[str, Variable], chosen: Mapping[str, str | Sequence[str]]
) -> str:
    """The browser's step: the variables replaced, Grafana's own ($__...) left alone."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        if name not in variables:
            return match.group(0)
        fmt = match.group(3) or match.group(6)
        if fmt is not None and fmt not in FORMATS:
            raise MacroError(f"${{{name}:{fmt}}}: formats other than {FORMATS} are not made here")
        return _formatted(variables[name], chosen[name], fmt)

    return _VARIABLE.sub(replace, sql)


def references(
    sql: str, variables: Mapping[str, Variable]
) -> Iterator[tuple[str, str | None, str]]:
    """(name, format or None, as written) of each reference to one of the variables."""
    for match in _VARIABLE.finditer(sql):
        name = match.group(1) or match.group(2) or match.group(4)
        if name in variables:
            yield name, match.group(3) or match.group(6), match.group(0)


def unquoted(sql: str, variables: Mapping[str, Variable]) -> list[str]:
    """The references to dashboard variables whose value reaches the SQL as bare
    text rather than as quoted literals: SQL in the value would run. Quoted are a
    multi-value or include-all variable's values in the data source's own format,
    and any variable's in `sqlstring`; a custom all value is the dashboard's own."""
    return [
        written
        for name, fmt, written in references(sql, variables)
        if fmt != "sqlstring"
        and not (fmt is None and (variables[name].multi or variables[name].include_all))
    ]


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: no fraction when it is zero, no trailing zeros."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _seconds(interval: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", interval.strip("'"))
    if match is None:
        raise MacroError(f"error parsing interval {interval}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _number(seconds: float) -> str:
    """Go's %v of a float64 (whole numbers without a point)."""
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """The server's step: Grafana's PostgreSQL macros for the range [start, end]."""

    def expand(match: re.Match[str]) -> str:
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
        if name == "__timeGroup" and sql[match.end() : match.end() + 1] == ",":
            name = "__timeGroupAlias"  # Grafana's pre-5.3 compatibility
        if name in ("__time", "__timeEpoch", "__timeFilter") and not args[0]:
            raise MacroError(f"missing time column argument for macro {name}")
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339(start)}' AND '{rfc3339(end)}'"
        if name == "__timeFrom":
            return f"'{rfc3339(start)}'"
        if name == "__timeTo":
            return f"'{rfc3339(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) < 2:
                raise MacroError(f"macro {name} needs time column and interval")
            step = _number(_seconds(args[1]))
            group = f"floor(extract(epoch from {args[0]})/{step})*{step}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise MacroError(f"unknown macro {name!r}")

    return _MACRO.sub(expand, sql)


def grafana_sql(
    sql: str,
    start: datetime,
    end: datetime,
    variables: Mapping[str, Variable] | None = None,
    chosen: Mapping[str, str | Sequence[str]] | None = None,
) -> str:
    """What PostgreSQL receives for a panel's SQL over [start, end]."""
    return expand_macros(interpolate(sql, variables or {}, chosen or {}), start, end)
