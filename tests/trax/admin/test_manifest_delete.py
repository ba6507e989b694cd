"""Deleting manifests in the admin goes through the store, and is refused, with the reason on
Django's confirmation page and nothing changed, for a manifest others depend on or one with a
dead letter awaiting a person. The start-up sync's prune keeps such manifests too."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from trax.models import DeadLetter, DeadLetterStatus, Manifest, ManifestGroup, WorkQueue
from trax.store import ManifestInUseError, manifest_delete

pytestmark = pytest.mark.django_db


def manifest(external_id: str, **fields: object) -> Manifest:
    group, _ = ManifestGroup.objects.get_or_create(name="default")
    values: dict[str, object] = {
        "train_name": "demo.greet",
        "input": {"name": "Ada"},
        "schedule_type": "interval",
        "interval_seconds": 60,
        "group": group,
        **fields,
    }
    return Manifest.objects.create(external_id=external_id, **values)


def delete_url(obj: Manifest) -> str:
    return reverse("admin:trax_manifest_delete", args=[obj.pk])


def test_a_free_manifest_is_deleted_with_its_queue_entries_and_resolved_letters(
    admin_client: Client,
) -> None:
    lone = manifest("lone")
    WorkQueue.objects.create(train_name="demo.greet", manifest=lone)
    DeadLetter.objects.create(
        manifest=lone, reason="x", retry_count=1, status=DeadLetterStatus.ACKNOWLEDGED
    )

    response = admin_client.post(delete_url(lone), {"post": "yes"})

    assert response.status_code == 302
    assert not Manifest.objects.filter(pk=lone.pk).exists()
    assert not WorkQueue.objects.exists() and not DeadLetter.objects.exists()


def test_a_manifest_others_depend_on_is_refused(admin_client: Client) -> None:
    parent = manifest("parent")
    manifest("child", schedule_type="dependent", interval_seconds=None, depends_on=parent)

    page = admin_client.get(delete_url(parent)).content.decode()
    response = admin_client.post(delete_url(parent), {"post": "yes"})

    assert "Cannot delete" in page and "manifest &#x27;child&#x27; depends on" in page
    assert response.status_code == 200  # the refusal page again, nothing deleted
    assert Manifest.objects.filter(pk=parent.pk).exists()


def test_a_manifest_with_a_dead_letter_awaiting_a_person_is_refused(admin_client: Client) -> None:
    stuck = manifest("stuck")
    letter = DeadLetter.objects.create(manifest=stuck, reason="retries ran out", retry_count=3)

    page = admin_client.get(delete_url(stuck)).content.decode()
    admin_client.post(delete_url(stuck), {"post": "yes"})

    assert f"dead letter #{letter.pk} awaiting intervention" in page
    assert Manifest.objects.filter(pk=stuck.pk).exists()
    assert DeadLetter.objects.filter(pk=letter.pk).exists()


def test_the_bulk_delete_action_is_refused_as_a_whole(admin_client: Client) -> None:
    parent, lone = manifest("parent"), manifest("lone")
    manifest("child", schedule_type="dependent", interval_seconds=None, depends_on=parent)

    admin_client.post(
        reverse("admin:trax_manifest_changelist"),
        {"action": "delete_selected", "_selected_action": [parent.pk, lone.pk], "post": "yes"},
    )

    assert Manifest.objects.filter(pk__in=[parent.pk, lone.pk]).count() == 2


def test_deleting_a_parent_with_its_dependents_is_allowed() -> None:
    parent = manifest("parent")
    child = manifest("child", schedule_type="dependent", interval_seconds=None, depends_on=parent)

    assert sorted(manifest_delete([parent.pk, child.pk], using="default")) == sorted(
        [parent.pk, child.pk]
    )


def test_the_store_refuses_the_whole_call_or_keeps_only_the_blocked() -> None:
    stuck, lone = manifest("stuck"), manifest("lone")
    DeadLetter.objects.create(
        manifest=stuck, reason="x", retry_count=1, status=DeadLetterStatus.AWAITING_INTERVENTION
    )

    with pytest.raises(ManifestInUseError, match="'stuck' has dead letter"):
        manifest_delete([stuck.pk, lone.pk], using="default")
    assert Manifest.objects.count() == 2

    assert manifest_delete([stuck.pk, lone.pk], using="default", keep_blocked=True) == [lone.pk]
    assert list(Manifest.objects.values_list("external_id", flat=True)) == ["stuck"]
