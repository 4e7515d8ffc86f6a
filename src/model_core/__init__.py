"""Framework-agnostic model serving core.

Everything model-specific lives here: manifest and artifact checks, loaders,
request decoding for the supported protocols, metrics and the OpenAPI
document. Web frameworks only adapt HTTP requests to :mod:`model_core.api`.
"""

__version__ = "0.1.0"
