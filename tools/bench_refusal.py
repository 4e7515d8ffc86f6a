"""How fast an oversized body is refused once it has been read (in-process, Flask test client).

An 8 MiB MLflow dataframe_split body of ~838k rows (the limit is 1024) must get its 413 from the
row pre-scan, without decoding the body; padded with 65 dummy members too, which once forced a
full decode. A legitimate 1024-row request is timed alongside, interleaved, medians of 5.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from model_core.config import Config
from model_flask import create_app

LIMIT_BYTES = 8 * 1024 * 1024
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _oversized(padding: int) -> bytes:
    head = "".join(f'"pad{i}":{{}},' for i in range(padding))
    row = "[5.1,3.5,1.4,0.2]"
    count = (LIMIT_BYTES - 200 - len(head)) // (len(row) + 1)
    rows = ",".join([row] * count)
    return f'{{{head}"dataframe_split":{{"columns":{json.dumps(COLUMNS)},"data":[{rows}]}}}}'.encode()


def measure_refusal(model_dir: Path, repetitions: int = 5) -> dict[str, Any]:
    client = create_app(Config(model_dir=model_dir, load_mode="sync", log_level="WARNING")).test_client()
    bodies = {
        "oversized_8mib": _oversized(0),
        "oversized_8mib_padded_65": _oversized(65),
        "normal_1024_rows": json.dumps({"dataframe_split": {"data": [[5.1, 3.5, 1.4, 0.2]] * 1024}}).encode(),
    }
    times: dict[str, list[float]] = {name: [] for name in bodies}
    statuses: dict[str, int] = {}
    for _ in range(repetitions):  # interleaved, so that load on the machine hits every case alike
        for name, body in bodies.items():
            started = time.perf_counter()
            reply = client.post("/invocations", data=body, content_type="application/json")
            times[name].append((time.perf_counter() - started) * 1000)
            statuses[name] = reply.status_code
    return {
        name: {"status": statuses[name], "bytes": len(bodies[name]), "median_ms": round(statistics.median(t), 1)}
        for name, t in times.items()
    }
