"""Where runs execute: detected once per process and stamped on every run it starts."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from trax.store import HostStamp

# (variable that reveals the platform, environment name, variable holding the instance id)
_PLATFORMS: tuple[tuple[str, str, str], ...] = (
    ("AWS_LAMBDA_FUNCTION_NAME", "lambda", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ("ECS_CONTAINER_METADATA_URI_V4", "ecs", "HOSTNAME"),
    ("KUBERNETES_SERVICE_HOST", "kubernetes", "HOSTNAME"),
    ("WEBSITE_SITE_NAME", "azure-app-service", "WEBSITE_INSTANCE_ID"),
)


def detect_host(
    environ: Mapping[str, str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    environment: str | None = None,
) -> HostStamp:
    """The host stamp from the standard variables of Lambda, ECS, Kubernetes and Azure App
    Service, else ``server`` with ``{host}-{pid}``; ``environment`` overrides detection."""
    env = os.environ if environ is None else environ
    host_name = socket.gethostname()
    detected, instance_id = "server", f"{host_name}-{os.getpid()}"
    for marker, name, instance_variable in _PLATFORMS:
        if env.get(marker):
            detected, instance_id = name, env.get(instance_variable, "") or instance_id
            break
    return HostStamp(
        name=host_name,
        environment=environment or detected,
        instance_id=instance_id,
        labels=dict(labels or {}),
    )


def detect_executor() -> str:
    """What ran the train: the program and its subcommand (``manage.py trax_worker``)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("manage.py", "django-admin") and len(sys.argv) > 1:
        return f"{program} {sys.argv[1]}"
    return program
