"""The admin's dead letters: acknowledge with a note (asked on a page of its own), the latest
failure shown inline, and manifests marked when a dead letter blocks them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from trax.models import Audit, DeadLetter, DeadLetterStatus

from .conftest import Rows

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:trax_deadletter_changelist"


def acknowledge(client: Client, rows: Rows, **extra: str):
    data = {"action": "acknowledge_selected", "_selected_action": [rows.dead_letter.pk], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_acknowledging_asks_for_a_note_first_and_changes_nothing_yet(
    admin_client: Client, rows: Rows
) -> None:
    page = acknowledge(admin_client, rows)

    assert page.status_code == 200
    assert b'name="note"' in page.content
    assert b"retries ran out" in page.content
    rows.dead_letter.refresh_from_db()
    assert rows.dead_letter.status == DeadLetterStatus.AWAITING_INTERVENTION


def test_acknowledging_without_a_note_is_refused(admin_client: Client, rows: Rows) -> None:
    page = acknowledge(admin_client, rows, apply="1", note="   ")

    assert b"the note is required" in page.content
    rows.dead_letter.refresh_from_db()
    assert rows.dead_letter.status == DeadLetterStatus.AWAITING_INTERVENTION
    assert not Audit.objects.filter(action="dead_letter.acknowledge").exists()


def test_acknowledging_with_a_note_resolves_the_letter_and_audits_it(
    admin_client: Client, rows: Rows
) -> None:
    page = acknowledge(admin_client, rows, apply="1", note="card processor outage")

    assert b"1 dead letter(s) acknowledged." in page.content
    letter = DeadLetter.objects.get(pk=rows.dead_letter.pk)
    assert (letter.status, letter.resolution_note) == (
        DeadLetterStatus.ACKNOWLEDGED,
        "card processor outage",
    )
    assert letter.resolved_by == "admin"
    assert Audit.objects.filter(action="dead_letter.acknowledge", actor="admin").exists()


def test_the_change_page_shows_the_latest_failure_inline_and_escaped(
    admin_client: Client, rows: Rows
) -> None:
    page = admin_client.get(
        reverse("admin:trax_deadletter_change", args=[rows.dead_letter.pk])
    ).content.decode()

    assert "PaymentDeclined in junction ComposeGreeting" in page
    assert "card &lt;b&gt;declined&lt;/b&gt;" in page
    assert "Traceback (most recent call last)" in page
    assert f"dead letter {rows.dead_letter.pk} of manifest" in page


def test_manifests_blocked_by_an_awaiting_dead_letter_are_marked(
    admin_client: Client, rows: Rows
) -> None:
    page = admin_client.get(reverse("admin:trax_manifest_changelist")).content.decode()

    assert "blocked by dead letter" in page.lower()
    blocked_and_enabled = page.count('alt="True"')

    DeadLetter.objects.update(status=DeadLetterStatus.ACKNOWLEDGED)
    page = admin_client.get(reverse("admin:trax_manifest_changelist")).content.decode()
    assert page.count('alt="True"') == blocked_and_enabled - 1  # enabled still, not blocked
