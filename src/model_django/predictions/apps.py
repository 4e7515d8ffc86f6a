from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "model_django.predictions"
    label = "predictions"
    verbose_name = "Predictions"
    default_auto_field = "django.db.models.BigAutoField"
