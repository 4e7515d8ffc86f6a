"""stackgen: generate, build and run a deployment of the model service for your own model."""

__version__ = "0.1.0"
