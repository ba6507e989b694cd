"""Dormant dependents: a running parent train activates its own dormant children with a
runtime input (``trax.activate`` / ``trax.activate_many``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from trax.conf import get_settings
from trax.core.context import current_run_or_none
from trax.core.serialization import normalise
from trax.models import ACTIVE_STATES, Manifest, Metadata, ScheduleType
from trax.models.choices import PRIORITY_MAX
from trax.registry import registry
from trax.scheduling.errors import ActivationError
from trax.store import NewWorkEntry, work_queue_insert_one

logger = logging.getLogger("trax.scheduling")


def activate(external_id: str, input: Any, *, using: str = "default") -> bool:
    """Activate one dormant child of the running parent; False if it was skipped because it
    is already queued or running."""
    return activate_many([(external_id, input)], using=using)[0]


def activate_many(activations: Iterable[tuple[str, Any]], *, using: str = "default") -> list[bool]:
    """Activate several dormant children in one transaction: all or nothing on a validation
    error; a child already queued or running is skipped with a warning."""
    parent = current_run_or_none()
    if parent is None or parent.manifest_id is None:
        raise ActivationError(
            "dormant dependents can only be activated from inside a run of their parent manifest"
        )
    pairs = list(activations)
    children = {
        m.external_id: m
        for m in Manifest.objects.using(using).filter(external_id__in=[e for e, _ in pairs])
    }
    prepared = []
    for external_id, value in pairs:
        child = children.get(external_id)
        if child is None:
            raise ActivationError(f"no manifest has the external id {external_id!r}")
        if child.schedule_type != ScheduleType.DORMANT_DEPENDENT:
            raise ActivationError(f"{external_id} is not a dormant dependent")
        if child.depends_on_id != parent.manifest_id:
            raise ActivationError(
                f"{external_id} is not a dormant dependent of the running parent manifest"
            )
        train = registry.get(child.train_name)
        _, payload = normalise(
            train.input_type,
            value,
            what=f"input of {external_id}",
            max_bytes=get_settings().MAX_INPUT_BYTES,
        )
        prepared.append((child, payload))
    boost = get_settings().DEPENDENT_PRIORITY_BOOST
    results = []
    with transaction.atomic(using=using):
        for child, payload in prepared:
            busy = (
                Metadata.objects.using(using)
                .filter(manifest=child, train_state__in=ACTIVE_STATES)
                .exists()
            )
            if busy:
                logger.warning("dormant %s is already running; activation skipped", child)
                results.append(False)
                continue
            entry = NewWorkEntry(
                train_name=child.train_name,
                input=payload,
                manifest_id=child.pk,
                priority=min(child.priority + boost, PRIORITY_MAX),
                scheduled_at=timezone.now(),
                is_explicit_trigger=True,
            )
            if not work_queue_insert_one(entry, using=using):
                logger.warning("dormant %s is already queued; activation skipped", child)
                results.append(False)
                continue
            results.append(True)
    return results
