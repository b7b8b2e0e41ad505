"""JSON Schema of the pipeline format, for editors (yaml-language-server) and docs."""

from __future__ import annotations

from typing import Any

from magnus_render.pipeline import spec

SCHEMA_ID = "https://magnus-render.invalid/pipeline.schema.json"


def pipeline_json_schema() -> dict[str, Any]:
    """A Draft 2020-12 schema: a ``dag`` whose steps are any node type, nested branches too."""
    defs: dict[str, Any] = {}
    node_refs = []
    for _node_type, model in sorted(spec.NODE_MODELS.items()):
        name = f"{model.__name__}"
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        for key, value in schema.pop("$defs", {}).items():
            defs[key] = value
        defs[name] = schema
        node_refs.append({"$ref": f"#/$defs/{name}"})
    defs["Steps"] = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": r"^[^.%]+$"},
        "additionalProperties": {"$ref": "#/$defs/Node"},
    }
    defs["Branch"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["start_at", "steps"],
        "properties": {
            "description": {"type": "string"},
            "start_at": {"type": "string"},
            "steps": {"$ref": "#/$defs/Steps"},
        },
    }
    defs["Node"] = {"oneOf": node_refs}
    defs["ParallelModel"]["properties"]["branches"] = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": r"^[^.%]+$"},
        "additionalProperties": {"$ref": "#/$defs/Branch"},
    }
    defs["MapModel"]["properties"]["branch"] = {"$ref": "#/$defs/Branch"}
    defs.pop("BranchModel", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "magnus pipeline",
        "type": "object",
        "additionalProperties": False,
        "required": ["dag"],
        "properties": {"dag": {"$ref": "#/$defs/Branch"}},
        "$defs": defs,
    }
