"""The agent config form, generated from the config's JSON Schema (agents.config): one input per
setting, named by its dotted path ("stop_loss.default_percentage"). Read back, the form is the
whole config as a PUT body, left for agents.config to validate, so a page and the API give the
same messages. Lists of levels are one text area, a level per line ("change, stop_loss").

Nothing here touches the database or knows Django's forms: the values come from any mapping
with `get` (a QueryDict is one).
"""

import re
from dataclasses import dataclass, field
from typing import Any

BOOL, NUMBER, INTEGER, CHOICE, TEXT, LINES, ROWS = (
    "bool",
    "number",
    "integer",
    "choice",
    "text",
    "lines",
    "rows",
)
_SEPARATORS = re.compile(r"[,;\s]+")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass
class ConfigField:
    name: str
    label: str
    kind: str
    nullable: bool = False
    choices: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    bounds: str = ""
    value: Any = None
    errors: list[str] = field(default_factory=list)

    @property
    def help(self) -> str:
        parts = []
        if self.kind == ROWS:
            parts.append("one per line: " + ", ".join(self.columns))
        elif self.kind == LINES:
            parts.append("one per line")
        if self.bounds:
            parts.append(self.bounds)
        if self.nullable:
            parts.append("empty: none")
        return "; ".join(parts)


@dataclass
class ConfigSection:
    name: str
    title: str
    fields: list[ConfigField]


@dataclass
class _Node:
    """One setting of the schema: its path and its resolved schema."""

    path: tuple[str, ...]
    schema: dict
    nullable: bool


def config_sections(schema: dict, values: dict) -> list[ConfigSection]:
    """The form's sections (one per top-level setting) with `values` (the effective config as
    JSON) filled in."""
    sections = []
    for name, prop in schema["properties"].items():
        section_schema = _resolve(schema, prop)
        fields = [
            _field(schema, node, _value_at(values, node.path))
            for node in _leaves(schema, (name,), section_schema, nullable=False)
        ]
        # The setting's own name: the schema's section title is its class name ("StopLossConfig").
        sections.append(ConfigSection(name, _title(name), fields))
    return [_flatten_tuples(section) for section in sections]


def config_from_form(schema: dict, data) -> dict:
    """The config a submitted form describes, unvalidated."""
    config: dict = {}
    for name, prop in schema["properties"].items():
        config[name] = _read(schema, (name,), _resolve(schema, prop), data)
    return config


def attach_errors(sections: list[ConfigSection], details: list[dict[str, str]]) -> list[str]:
    """Put each validation message on the field it names; returns the ones that name none."""
    by_name = {f.name: f for section in sections for f in section.fields}
    unplaced = []
    for detail in details:
        name, message = detail["field"], detail["message"]
        target, prefix = _owner(by_name, name)
        if target is None:
            unplaced.append(f"{name}: {message}" if name else message)
        else:
            target.errors.append(f"{prefix}{message}")
    return unplaced


def _owner(by_name: dict[str, ConfigField], name: str) -> tuple[ConfigField | None, str]:
    if name in by_name:
        return by_name[name], ""
    # A level of a list ("take_profit.levels[1].target_percent") belongs to the list's field.
    match = _INDEX.search(name)
    if match and name[: match.start()] in by_name:
        rest = name[match.end() :].lstrip(".")
        line = int(match.group(1)) + 1
        return by_name[name[: match.start()]], f"line {line}{' ' + rest if rest else ''}: "
    # A rule over a pair ("position_sizing.sizes.small") sits on its first number.
    if f"{name}[0]" in by_name:
        return by_name[f"{name}[0]"], ""
    # A rule over a whole optional group sits on its first field.
    first = next((f for key, f in by_name.items() if key.startswith(name + ".")), None)
    return first, ""


def _leaves(schema: dict, path: tuple[str, ...], node: dict, *, nullable: bool):
    """Every setting under an object, objects flattened."""
    for name, prop in node.get("properties", {}).items():
        child_path = (*path, name)
        child, child_nullable = _unwrap(schema, prop)
        if child.get("type") == "object" or "properties" in child:
            yield from _leaves(schema, child_path, child, nullable=nullable or child_nullable)
        else:
            yield _Node(child_path, child, nullable or child_nullable)


def _field(schema: dict, node: _Node, value: Any) -> ConfigField:
    kind, extra = _kind(schema, node.schema)
    label = " ".join(_title(part) for part in node.path[1:])
    return ConfigField(
        name=".".join(node.path),
        label=label,
        kind=kind,
        nullable=node.nullable,
        bounds=_bounds(node.schema),
        value=_display(kind, value),
        **extra,
    )


def _flatten_tuples(section: ConfigSection) -> ConfigSection:
    """A fixed pair ([min, max]) becomes one field per item: "...small[0]", "...small[1]"."""
    fields = []
    for item in section.fields:
        if item.kind != "tuple":
            fields.append(item)
            continue
        for index, (value, bounds) in enumerate(zip(item.value, item.columns, strict=True)):
            which = ("min", "max")[index] if len(item.value) == 2 else str(index + 1)
            fields.append(
                ConfigField(
                    f"{item.name}[{index}]",
                    f"{item.label} {which}",
                    NUMBER,
                    False,
                    (),
                    (),
                    bounds,
                    value,
                )
            )
    section.fields = fields
    return section


def _kind(schema: dict, node: dict) -> tuple[str, dict]:
    if "enum" in node:
        return CHOICE, {"choices": tuple(node["enum"])}
    kind = node.get("type")
    if kind == "boolean":
        return BOOL, {}
    if kind == "integer":
        return INTEGER, {}
    if kind == "array":
        if "prefixItems" in node:
            bounds = tuple(_bounds(_unwrap(schema, item)[0]) for item in node["prefixItems"])
            return "tuple", {"columns": bounds}
        items = _resolve(schema, node.get("items", {}))
        if "properties" in items:
            return ROWS, {"columns": tuple(items["properties"])}
        return LINES, {}
    if kind == "string":
        return TEXT, {}
    return NUMBER, {}


def _read(schema: dict, path: tuple[str, ...], node: dict, data, nullable: bool = False) -> Any:
    if "properties" in node:
        return {
            name: _read_setting(schema, (*path, name), prop, data, nullable)
            for name, prop in node["properties"].items()
        }
    raise ValueError(f"{'.'.join(path)} is not an object")


def _read_setting(schema: dict, path: tuple[str, ...], prop: dict, data, in_optional: bool) -> Any:
    node, nullable = _unwrap(schema, prop)
    nullable = nullable or in_optional
    if "properties" in node:
        group = _read(schema, path, node, data, nullable)
        if nullable and all(value in (None, False) for value in group.values()):
            return None
        return group
    name = ".".join(path)
    kind, extra = _kind(schema, node)
    if kind == BOOL:
        return data.get(name) is not None
    if kind == "tuple":
        return [(data.get(f"{name}[{i}]") or "").strip() for i in range(len(extra["columns"]))]
    text = (data.get(name) or "").strip()
    if kind == LINES:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == ROWS:
        return [_row(extra["columns"], line) for line in text.splitlines() if line.strip()]
    if text == "" and nullable:
        return None
    return text


def _row(columns: tuple[str, ...], line: str) -> dict:
    values = [value for value in _SEPARATORS.split(line.strip()) if value]
    row = dict(zip(columns, values, strict=False))
    # More values than columns: named so that validation reports them as unknown fields.
    row.update(
        {f"value_{index + 1}": value for index, value in enumerate(values) if index >= len(columns)}
    )
    return row


def _display(kind: str, value: Any) -> Any:
    if kind == LINES:
        return "\n".join(str(item) for item in value or ())
    if kind == ROWS:
        return "\n".join(", ".join(str(item) for item in row.values()) for row in value or ())
    if kind == "tuple":
        return list(value)
    if kind == BOOL:
        return bool(value)
    return "" if value is None else str(value)


def _value_at(values: dict, path: tuple[str, ...]) -> Any:
    value: Any = values
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _unwrap(schema: dict, prop: dict) -> tuple[dict, bool]:
    """The schema of a setting and whether it may be null (`anyOf: [X, null]`). A number
    accepted as a number or a string (a Decimal) is read as the number's schema."""
    prop = _resolve(schema, prop)
    if "anyOf" not in prop:
        return prop, False
    options = [_resolve(schema, option) for option in prop["anyOf"]]
    nullable = any(option.get("type") == "null" for option in options)
    real = [option for option in options if option.get("type") not in ("null", "string")]
    real = real or [option for option in options if option.get("type") != "null"]
    return {**{k: v for k, v in prop.items() if k != "anyOf"}, **real[0]}, nullable


def _resolve(schema: dict, prop: dict) -> dict:
    ref = prop.get("$ref")
    if ref is None:
        return prop
    return {
        **schema["$defs"][ref.rsplit("/", 1)[-1]],
        **{k: v for k, v in prop.items() if k != "$ref"},
    }


def _bounds(node: dict) -> str:
    parts = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{sign} {_number(node[key])}")
    return " and ".join(parts)


def _number(value: float | int) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()
