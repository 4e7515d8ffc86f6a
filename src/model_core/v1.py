"""KServe V1 and MLflow-style request bodies → float rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BadRequest
from .jsonbody import JsonPath
from .manifest import Manifest
from .tensors import json_type, rows_from_json

# Where each body format keeps its rows, so the row limit can be checked before parsing them.
V1_ROWS: tuple[JsonPath, ...] = (("instances",),)
MLFLOW_ROWS: tuple[JsonPath, ...] = (("dataframe_split", "data"), ("dataframe_records",), ("instances",), ("inputs",))


def rows_from_records(records: list[Any], manifest: Manifest, field: str) -> np.ndarray:
    """Rows given as objects keyed by feature name (every feature, nothing else)."""
    names = list(manifest.feature_names)
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"{field}[{i}]: expected an object keyed by feature name")
        missing = [n for n in names if n not in record]
        unknown = [k for k in record if k not in names]
        if missing or unknown:
            raise BadRequest(f"{field}[{i}]: missing features {missing}, unknown features {unknown} (expected {names})")
        rows.append([record[n] for n in names])
    return rows_from_json(rows, field)


def rows_from_instances(instances: Any, manifest: Manifest, field: str = "instances") -> np.ndarray:
    if not isinstance(instances, list) or not instances:
        raise BadRequest(f"{field}: expected a non-empty array of rows, got {json_type(instances)}")
    if all(isinstance(item, dict) for item in instances):
        return rows_from_records(instances, manifest, field)
    return rows_from_json(instances, field)


def parse_v1(document: Any, manifest: Manifest) -> np.ndarray:
    if not isinstance(document, dict) or "instances" not in document:
        raise BadRequest('request body: expected an object {"instances": [[...], ...]}')
    return rows_from_instances(document["instances"], manifest)


def parse_mlflow(document: Any, manifest: Manifest) -> np.ndarray:
    if not isinstance(document, dict):
        raise BadRequest(f"request body: expected a JSON object, got {json_type(document)}")
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in document]
    if len(keys) != 1:
        raise BadRequest("request body: expected exactly one of dataframe_split, dataframe_records, instances, inputs")
    key = keys[0]
    payload = document[key]
    if key == "dataframe_split":
        return _dataframe_split(payload, manifest)
    return rows_from_instances(payload, manifest, key)


def _dataframe_split(payload: Any, manifest: Manifest) -> np.ndarray:
    if not isinstance(payload, dict) or "data" not in payload:
        raise BadRequest('dataframe_split: expected {"columns": [...], "data": [[...], ...]}')
    data = payload["data"]
    if "columns" not in payload:
        return rows_from_instances(data, manifest, "dataframe_split.data")
    columns = payload["columns"]
    if not isinstance(columns, list) or not isinstance(data, list):
        raise BadRequest("dataframe_split: columns and data must be arrays")
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise BadRequest("dataframe_split.columns: expected distinct feature names (strings)")
    records = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadRequest(f"dataframe_split.data[{i}]: expected {len(columns)} values, one per column")
        records.append(dict(zip(columns, row, strict=True)))
    if not records:
        raise BadRequest("dataframe_split.data: expected at least one row")
    return rows_from_records(records, manifest, "dataframe_split.data")
