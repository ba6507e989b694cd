from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    label = "trax_dashboard"
    verbose_name = "Trax dashboard"
