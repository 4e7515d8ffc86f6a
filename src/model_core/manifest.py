"""The model manifest: what the artifact is, what it accepts, and its checksum."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ArtifactError

MANIFEST_NAME = "manifest.json"
DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 marks the batch dimension
    features: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    loader: str
    artifact: str
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.inputs[0].shape[-1])

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.inputs[0].features


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tensor(raw: Any, where: str) -> TensorSpec:
    if not isinstance(raw, dict):
        raise ArtifactError(f"manifest {where} must be an object")
    try:
        spec = TensorSpec(
            name=str(raw["name"]),
            datatype=str(raw["datatype"]),
            shape=tuple(int(d) for d in raw["shape"]),
            features=tuple(str(f) for f in raw.get("features", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"manifest {where} needs name, datatype and an integer shape ({exc})") from None
    if spec.datatype not in DATATYPES:
        raise ArtifactError(f"manifest {where}.datatype {spec.datatype!r} is not a V2 datatype")
    return spec


def load_manifest(model_dir: Path) -> Manifest:
    path = model_dir / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"no manifest at {path}") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"manifest {path} is unreadable: {exc}") from None
    try:
        inputs = tuple(_tensor(t, f"inputs[{i}]") for i, t in enumerate(raw["inputs"]))
        outputs = tuple(_tensor(t, f"outputs[{i}]") for i, t in enumerate(raw["outputs"]))
        known = {"name", "version", "loader", "artifact", "sha256", "inputs", "outputs"}
        manifest = Manifest(
            name=str(raw["name"]),
            version=str(raw["version"]),
            loader=str(raw["loader"]),
            artifact=str(raw["artifact"]),
            sha256=str(raw["sha256"]).lower(),
            inputs=inputs,
            outputs=outputs,
            extra={k: v for k, v in raw.items() if k not in known},
        )
    except KeyError as exc:
        raise ArtifactError(f"manifest {path} lacks the key {exc}") from None
    if len(manifest.inputs) != 1 or len(manifest.inputs[0].shape) != 2:
        raise ArtifactError("manifest must declare exactly one input of shape [-1, n_features]")
    return manifest


def verify_artifact(model_dir: Path, manifest: Manifest) -> Path:
    """Return the artifact path, or raise ArtifactError when its sha256 differs from the manifest."""
    artifact = model_dir / manifest.artifact
    if not artifact.is_file():
        raise ArtifactError(f"model artifact {artifact} is missing")
    actual = sha256_of(artifact)
    if actual != manifest.sha256:
        raise ArtifactError(
            f"model artifact {artifact} has sha256 {actual} but the manifest says {manifest.sha256}; "
            "refusing to serve it"
        )
    return artifact
