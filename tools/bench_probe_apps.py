"""WSGI apps the bench measures beside the service, to split its cost per request.

- ``hello``: reads the body and answers a fixed V2 response of the same size: what gunicorn
  itself costs for this request shape.
- ``constant_model``: the Flask service as shipped, with the model's predictor replaced by
  constant arrays: the stack's own cost (adapter, core, JSON, metrics) without the model.
Served as ``bench_probe_apps:hello`` / ``bench_probe_apps:constant_model`` with tools/ on the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_ANSWER = (
    b'{"model_name":"iris","model_version":"1","outputs":[{"name":"label","datatype":"INT64","shape":[1],'
    b'"data":[0]},{"name":"probabilities","datatype":"FP64","shape":[1,3],"data":[0.9847031668428455,'
    b"0.015296771119383056,6.20377713724823e-08]}]}"
)


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_ANSWER)))])
    return [_ANSWER]


def _constant_model() -> Any:
    import numpy as np

    from model_flask.wsgi import app

    service = app.extensions["stackgen_api"].service
    label, probabilities = np.array([0]), np.array([[0.9847031668428455, 0.015296771119383056, 6.20377713724823e-08]])
    service._predictor = lambda rows, outputs: [label if name == "label" else probabilities for name in outputs]
    return app


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that importing this module for ``hello`` loads no model.
    if name == "constant_model":
        return _constant_model()
    raise AttributeError(name)
