"""Host detection from the standard platform variables."""

from __future__ import annotations

import os

import pytest

from trax.effects.host import detect_host


@pytest.mark.parametrize(
    "environ, environment, instance_id",
    [
        (
            {"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_LOG_STREAM_NAME": "2026/stream"},
            "lambda",
            "2026/stream",
        ),
        ({"ECS_CONTAINER_METADATA_URI_V4": "http://x", "HOSTNAME": "task-1"}, "ecs", "task-1"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "pod-7"}, "kubernetes", "pod-7"),
        (
            {"WEBSITE_SITE_NAME": "site", "WEBSITE_INSTANCE_ID": "abc"},
            "azure-app-service",
            "abc",
        ),
    ],
)
def test_the_platform_is_detected_from_its_variables(
    environ: dict[str, str], environment: str, instance_id: str
) -> None:
    host = detect_host(environ)
    assert (host.environment, host.instance_id) == (environment, instance_id)


def test_a_plain_machine_is_a_server_with_host_and_pid() -> None:
    host = detect_host({})
    assert host.environment == "server"
    assert host.instance_id == f"{host.name}-{os.getpid()}"


def test_labels_and_an_explicit_environment_are_used() -> None:
    host = detect_host(
        {"KUBERNETES_SERVICE_HOST": "x"}, labels={"team": "data"}, environment="edge"
    )
    assert host.environment == "edge" and host.labels == {"team": "data"}
