"""Django adapter over :mod:`model_core`, plus what Django adds around the model:
a prediction log and model versions in the ORM, the admin, token auth and throttling."""
