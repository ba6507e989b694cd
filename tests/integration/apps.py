"""An app for the integration tests, installed only in the ``manage.py`` processes they start
(``TRAX_TEST_APPS=tests.integration``), so those autodiscover ``tests.integration.trains``."""

from django.apps import AppConfig


class IntegrationTestsConfig(AppConfig):
    name = "tests.integration"
    label = "trax_integration_tests"
    verbose_name = "trax integration tests"
