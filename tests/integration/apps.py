"""An app for the integration tests, installed only in the ``manage.py`` processes they start
(``TRAX_TEST_APPS=tests.integration``), so those autodiscover ``tests.integration.trains``.
With ``TRAX_TEST_SPANS`` set, the process also gets an OpenTelemetry SDK exporting its spans
to that file (tests/integration/spans.py)."""

import os

from django.apps import AppConfig


class IntegrationTestsConfig(AppConfig):
    name = "tests.integration"
    label = "trax_integration_tests"
    verbose_name = "trax integration tests"

    def ready(self) -> None:
        spans_file = os.environ.get("TRAX_TEST_SPANS")
        if spans_file:
            from tests.integration.spans import JsonLinesExporter
            from tests.otel import install_provider

            install_provider(JsonLinesExporter(spans_file))
