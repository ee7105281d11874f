"""Checks answers against the OpenAPI document: the status is documented and the body fits its schema."""

from __future__ import annotations

from typing import Any

from api.openapi import openapi_document

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Follows a $ref to its schema."""
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _fits_type(value: object, names: str | list[str]) -> bool:
    """Whether a value has one of the JSON types (booleans are not numbers)."""
    for name in [names] if isinstance(names, str) else names:
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, _TYPES[name]):
            return True
    return False


def schema_problems(
    value: object, schema: dict[str, Any], document: dict[str, Any], path: str = "$"
) -> list[str]:
    """Lists where a value breaks the schema (type, enum, required, additionalProperties, items)."""
    schema = _resolve(schema, document)
    if "type" in schema and not _fits_type(value, schema["type"]):
        return [f"{path}: {value!r} is not {schema['type']}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [f"{path}: missing {name}" for name in schema.get("required", []) if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += schema_problems(item, properties[name], document, f"{path}.{name}")
            elif extra is False:
                problems.append(f"{path}: undocumented {name}")
            elif isinstance(extra, dict):
                problems += schema_problems(item, extra, document, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += schema_problems(item, schema["items"], document, f"{path}[{index}]")
    return problems


def check_answer(method: str, route: str, status: int, body: object) -> None:
    """Asserts that the operation documents the status and that the body fits the documented schema."""
    document = openapi_document()
    responses = document["paths"][route][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {route} answers {status}, which is not documented"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    assert schema_problems(body, schema, document) == []
