from django.apps import AppConfig


class TraxConfig(AppConfig):
    name = "trax"
    verbose_name = "Trax"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from trax import (
            checks,  # noqa: F401  (registers the system checks)
            log_fields,
        )
        from trax.conf import get_settings
        from trax.effects.logs import install_log_capture

        get_settings()  # fail fast on a bad settings.TRAX
        install_log_capture()
        log_fields.install()
        autodiscover_modules("trains")
