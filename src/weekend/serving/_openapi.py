"""``GET /openapi.json``: the service described from the signatures of the versions it serves.

Every served target gets its own path (``/v1/models/flight-delay/predict``,
``/v1/models/flight-delay@challenger/predict``) whose row schema lists the signature's
columns: JSON types and ranges from the column types (an ``int32`` column is an integer
within 32 bits), ``null`` where the column is nullable, the categories of a ``category``
column as an ``enum``, ``date-time`` and ``date`` formats. A column the service can read from
the online store is optional. The document follows the versions: after a hot reload it
describes the new ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from weekend.registry import ColumnSpec
    from weekend.serving._models import Deployment, ModelSet

_TIME_FORMATS = {"timestamp": "date-time", "date": "date"}


def column_schema(spec: ColumnSpec) -> dict[str, Any]:
    """The JSON schema of one signature column's values."""
    schema: dict[str, Any]
    if spec.type == "int":
        schema = {"type": "integer"}
        try:
            info = np.iinfo(np.dtype(spec.dtype.lower()))
            schema.update(minimum=int(info.min), maximum=int(info.max))
        except TypeError:
            pass
    elif spec.type == "float":
        schema = {"type": "number"}
    elif spec.type == "bool":
        schema = {"type": "boolean"}
    elif spec.type == "category":
        schema = {"enum": list(spec.categories or ())}
    elif spec.type in _TIME_FORMATS:
        schema = {"type": "string", "format": _TIME_FORMATS[spec.type]}
    else:
        schema = {"type": "string"}
    schema["description"] = f"{spec.type} ({spec.dtype})"
    if spec.nullable:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        else:
            schema["type"] = [schema["type"], "null"]
    return schema


def row_schema(deployment: Deployment) -> dict[str, Any]:
    """The JSON schema of one row for ``deployment`` (extra keys are allowed: entity keys,
    request fields of on-demand features, the row key)."""
    if deployment.schema is None:
        return {"type": "object", "description": "no signature: rows go to the model as sent"}
    looked_up = set() if deployment.features is None else set(deployment.features.refs)
    inputs = deployment.schema.signature.inputs
    return {
        "type": "object",
        "properties": {spec.name: column_schema(spec) for spec in inputs},
        "required": [spec.name for spec in inputs if spec.name not in looked_up],
        "additionalProperties": True,
    }


def _request(row: str, max_rows: int) -> dict[str, Any]:
    rows = {"type": "array", "items": {"$ref": row}, "minItems": 1, "maxItems": max_rows}
    now = {"type": "string", "description": "read online features as of this time (ISO 8601)"}
    return {
        "oneOf": [
            rows,
            {
                "type": "object",
                "properties": {"rows": rows, "now": now},
                "required": ["rows"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "data": {
                        "type": "array",
                        "items": {"type": "array"},
                        "minItems": 1,
                        "maxItems": max_rows,
                    },
                    "now": now,
                },
                "required": ["columns", "data"],
                "additionalProperties": False,
            },
        ]
    }


def _answer(deployment: Deployment) -> dict[str, Any]:
    output = getattr(deployment.loaded.signature, "output", None)
    properties: dict[str, Any] = {
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "alias": {"type": ["string", "null"]},
        "route": {"enum": ["primary", "canary"]},
        "request_id": {"type": "string"},
        "predictions": {"type": "array"},
    }
    if output is not None and output.classes:
        properties["classes"] = {"type": "array", "items": {"enum": list(output.classes)}}
        properties["probabilities"] = {
            "type": "array",
            "items": {"type": "array", "items": {"type": "number"}},
        }
    return {
        "type": "object",
        "properties": properties,
        "required": ["model", "version", "route", "request_id", "predictions"],
    }


_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message", "field", "request_id"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "request_id": {"type": ["string", "null"]},
                "errors": {
                    "type": "array",
                    "description": "one entry per bad field (422 from a signature check)",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
_ERRORS = {
    "400": "the body is not JSON, or not one of the accepted forms",
    "401": "no valid token (when the service requires one)",
    "403": "the token lacks the role",
    "404": "no such model or alias served here",
    "413": "the body or its number of rows is over the limit",
    "422": "rows that do not match the model's signature; one entry per field in `errors`",
    "503": "busy (Retry-After), or the service cannot answer as configured",
}


def _errors() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {
        code: {"description": text, "content": {"application/json": {"schema": ref}}}
        for code, text in _ERRORS.items()
    }


def _operation(target: str, deployment: Deployment, row: str, max_rows: int) -> dict[str, Any]:
    version = deployment.loaded.version
    return {
        "post": {
            "operationId": f"predict_{target}",
            "summary": f"Predict with {target} (now {version.ref})",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _request(row, max_rows)}},
            },
            "responses": {
                "200": {
                    "description": "predictions",
                    "content": {"application/json": {"schema": _answer(deployment)}},
                },
                **_errors(),
            },
        }
    }


def _simple(summary: str, kind: str = "application/json") -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": {"description": summary,
                                                           "content": {kind: {}}}}}}  # fmt: skip


def openapi(models: ModelSet, *, version: str, max_rows: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a service serving ``models``."""
    schemas: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, Any] = {}
    targets = [(name, slot) for name, slot in models.primary.items()]
    targets += [(key, slot) for key, slot in models.slots.items() if slot.alias is not None]
    for target, slot in targets:
        deployment = slot.deployment
        row_name = f"{deployment.name}.v{deployment.version}.row"
        schemas[row_name] = row_schema(deployment)
        row = f"#/components/schemas/{row_name}"
        paths[f"/v1/models/{target}/predict"] = _operation(target, deployment, row, max_rows)
    paths["/health"] = _simple("The process is alive")
    paths["/ready"] = _simple("Models loaded and the online store reachable (503 when not)")
    paths["/metrics"] = _simple("Prometheus metrics", "text/plain")
    return {
        "openapi": "3.1.0",
        "info": {"title": "weekend prediction service", "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


__all__ = ["column_schema", "openapi", "row_schema"]
