"""The Dead letters page: awaiting, retried and acknowledged letters with the latest failure
inline and the failed attempts listed; the filter; retry and acknowledge on one, ticked and all
matching letters (refused without ``trax.resolve_dead_letter``, one audit row each, bad input
naming the problem and writing nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import trax
from dashboard.bulk.runner import wait_for_bulk_operations
from tests.dashboard.users import operator
from trax.models import Audit, BulkOperation, DeadLetter, Metadata, WorkQueue

URL = reverse("dashboard:dead_letters")
ACT = reverse("dashboard:dead_letters_act")
RESOLVER = ("view_console", "resolve_dead_letter")


def one(letter: DeadLetter, action: str) -> str:
    return reverse("dashboard:dead_letter_act", args=[letter.pk, action])


def letter_of(
    name: str, *, failures: int = 2, train: str = "demo.greet", **fields: Any
) -> DeadLetter:
    manifest = trax.scheduler.schedule(name, train, {"name": name}, trax.Every.minutes(10))
    runs = [
        Metadata.objects.create(
            name=train,
            manifest=manifest,
            train_state="failed",
            attempt=attempt,
            end_time=timezone.now() - timedelta(minutes=failures - attempt),
            failure_exception="TimeoutError",
            failure_reason=f"timed out on attempt {attempt}",
        )
        for attempt in range(1, failures + 1)
    ]
    if fields.get("status", "awaiting_intervention") != "awaiting_intervention":
        fields.setdefault("resolved_at", timezone.now())
        fields.setdefault("resolved_by", "earlier")
    return DeadLetter.objects.create(
        manifest=manifest,
        last_failed_run=runs[-1],
        reason=f"{failures} failures in a row",
        retry_count=failures - 1,
        **fields,
    )


def as_user(client: Client, *permissions: str) -> Client:
    """Logged in as ``ops`` (who may resolve) or ``viewer`` (who may only look)."""
    name = "ops" if "resolve_dead_letter" in permissions else "viewer"
    user = get_user_model().objects.filter(username=name).first()
    client.force_login(user or operator(name, permissions=permissions or ("view_console",)))
    return client


def console_audit() -> Any:
    """The audit rows of the page's actions (declaring schedules writes rows of its own)."""
    return Audit.objects.filter(action__startswith="dead_letters.")


def shown(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('data-letter="')[1:]]


def nothing_written() -> None:
    assert not console_audit().exists()
    assert not WorkQueue.objects.filter(dead_letter__isnull=False).exists()
    assert set(DeadLetter.objects.values_list("status", flat=True)) <= {"awaiting_intervention"}


# ── the list ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db
def test_each_letter_with_its_latest_failure_and_failed_attempts(client: Client) -> None:
    letter = letter_of("nightly", failures=3)

    html = as_user(client).get(URL).content.decode()

    assert shown(html) == [letter.pk]
    assert "nightly" in html and "awaiting" in html and "3 failures in a row" in html
    latest = letter.last_failed_run
    assert (
        f'href="/trax/runs/{latest.pk}/">#{latest.pk}</a> <span class="failed">TimeoutError' in html
    )
    assert "3 failed attempts" in html
    assert html.count("timed out on attempt") == 3 + 1  # the list, and the latest inline
    assert "Retry</button>" not in html, "the buttons show only to who may press them"


@pytest.mark.django_db
def test_names_reasons_and_notes_are_escaped(client: Client) -> None:
    letter_of("<b>bold</b>", status="acknowledged", resolution_note="<script>x</script>")
    html = as_user(client).get(URL).content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("", ["c-ack", "b-mail", "a-etl"]),
        ("status:awaiting", ["b-mail", "a-etl"]),
        ("status:acknowledged", ["c-ack"]),
        ("status:awaiting status:acknowledged", ["c-ack", "b-mail", "a-etl"]),
        ("train:demo.slow", ["b-mail"]),
        ("manifest:a-etl", ["a-etl"]),
        ("etl", ["a-etl"]),
        ("failures", ["c-ack", "b-mail", "a-etl"]),
        ("status:retried", []),
    ],
)
def test_the_filter(client: Client, q: str, expected: list[str]) -> None:
    letters = {
        "a-etl": letter_of("a-etl"),
        "b-mail": letter_of("b-mail", train="demo.slow"),
        "c-ack": letter_of("c-ack", status="acknowledged"),
    }
    names = {letter.pk: name for name, letter in letters.items()}
    response = as_user(client).get(URL, {"q": q})
    assert response.status_code == 200
    assert [names[pk] for pk in shown(response.content.decode())] == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "status:lost"}, "status:lost is not a dead letter status"),
        ({"q": "colour:red"}, "unknown filter field &#x27;colour&#x27;"),
        ({"q": "train:"}, "train: needs a value"),
        ({"q": '"open'}, "unclosed quote"),
        ({"q": "x" * 1001}, "longer than 1000 characters"),
        ({"before": "abc"}, "before=&#x27;abc&#x27; is not a valid dead letter id"),
    ],
)
def test_a_filter_it_cannot_read_is_named_and_nothing_listed(
    client: Client, params: dict[str, str], says: str
) -> None:
    letter_of("nightly")
    response = as_user(client).get(URL, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert says in html and shown(html) == []


@pytest.mark.django_db
def test_pages_follow_by_id(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dashboard.dead_letters.listing.PAGE", 2)
    letters = [letter_of(f"m{i}", failures=1) for i in range(3)]
    as_user(client)
    first = client.get(URL).content.decode()
    assert shown(first) == [letters[2].pk, letters[1].pk]
    assert f"before={letters[1].pk}" in first and 'data-metric="matching">3 dead letters' in first
    second = client.get(URL, {"before": letters[1].pk}).content.decode()
    assert shown(second) == [letters[0].pk] and 'rel="next"' not in second


# ── acting ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db
def test_retry_one_requeues_its_schedule_with_one_audit_row(client: Client) -> None:
    letter = letter_of("nightly")
    as_user(client, *RESOLVER)

    response = client.post(one(letter, "retry"), {"next": URL + "?q=status:awaiting"})

    assert response.status_code == 302 and response["Location"] == URL + "?q=status:awaiting"
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by) == ("retried", "ops")
    entry = WorkQueue.objects.get(dead_letter=letter)
    assert (entry.status, entry.manifest_id, entry.input) == (
        "queued",
        letter.manifest_id,
        {"name": "nightly"},
    )
    audit = console_audit().get()
    assert (audit.actor, audit.action, audit.target) == (
        "ops",
        "dead_letters.retry",
        f"dead_letter:{letter.pk}",
    )
    assert audit.detail == {"ids": [letter.pk], "count": 1, "note": "", "from": "console"}
    page = client.get(URL).content.decode()
    assert "Retried 1 dead letter" in page and "retry queued" in page


@pytest.mark.django_db
def test_acknowledge_one_with_a_note(client: Client) -> None:
    letter = letter_of("nightly")
    as_user(client, *RESOLVER)

    client.post(one(letter, "acknowledge"), {"note": "  upstream fixed, skipping  "})

    letter.refresh_from_db()
    assert (letter.status, letter.resolution_note) == ("acknowledged", "upstream fixed, skipping")
    assert not WorkQueue.objects.exists()
    audit = console_audit().get()
    assert (audit.action, audit.detail["note"]) == (
        "dead_letters.acknowledge",
        "upstream fixed, skipping",
    )
    assert "upstream fixed, skipping" in client.get(URL).content.decode()


@pytest.mark.django_db
def test_ticked_letters_one_audit_row_already_resolved_ones_left_alone(client: Client) -> None:
    first, second = letter_of("a"), letter_of("b")
    done = letter_of("c", status="acknowledged", resolution_note="old")
    as_user(client, *RESOLVER)

    response = client.post(
        ACT,
        {"action": "acknowledge", "note": "known outage", "ids": [first.pk, second.pk, done.pk]},
        follow=True,
    )

    assert {d.status for d in DeadLetter.objects.filter(pk__in=[first.pk, second.pk])} == {
        "acknowledged"
    }
    assert DeadLetter.objects.get(pk=done.pk).resolution_note == "old"
    audit = console_audit().get()
    assert (audit.target, audit.detail["ids"], audit.detail["count"]) == (
        "dead_letters",
        [first.pk, second.pk],
        2,
    )
    assert "Acknowledged 2 dead letters. 1 already resolved" in response.content.decode()


@pytest.mark.django_db
def test_acting_on_only_resolved_letters_writes_nothing(client: Client) -> None:
    done = letter_of("c", status="retried")
    response = as_user(client, *RESOLVER).post(one(done, "retry"), follow=True)
    assert "1 already resolved" in response.content.decode()
    assert not console_audit().exists() and not WorkQueue.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        (
            {"action": "acknowledge", "ids": ["999999"], "note": "n"},
            404,
            "No dead letter has the id(s) 999999",
        ),
        ({"action": "retry", "ids": ["abc"]}, 400, "Not a dead letter id: &#x27;abc&#x27;"),
        ({"action": "retry", "ids": ["1" * 30]}, 400, "Not a dead letter id"),
        ({"action": "retry"}, 400, "No dead letter was ticked"),
        (
            {"action": "explode", "ids": ["1"]},
            400,
            "There is no dead letter action &#x27;explode&#x27;",
        ),
        (
            {"action": "acknowledge", "ids": ["{letter}"]},
            400,
            "Acknowledging needs a note saying why",
        ),
        ({"action": "acknowledge", "ids": ["{letter}"], "note": "   "}, 400, "needs a note"),
        (
            {"action": "acknowledge", "ids": ["{letter}"], "note": "x" * 2001},
            400,
            "The note is 2001 characters long; at most 2000",
        ),
        ({"action": "retry", "ids": ["{letter}"], "note": "x" * 2001}, 400, "at most 2000"),
    ],
)
def test_bad_input_is_named_and_nothing_written(
    client: Client, form: dict[str, Any], status: int, says: str
) -> None:
    letter = letter_of("nightly")
    form = {
        key: [v.replace("{letter}", str(letter.pk)) for v in value] if key == "ids" else value
        for key, value in form.items()
    }

    response = as_user(client, *RESOLVER).post(ACT, form)

    assert response.status_code == status
    assert says in response.content.decode() and "Nothing was changed" in response.content.decode()
    nothing_written()


@pytest.mark.django_db
def test_a_note_of_2000_characters_is_kept_whole(client: Client) -> None:
    letter = letter_of("nightly")
    as_user(client, *RESOLVER).post(one(letter, "acknowledge"), {"note": "n" * 2000})
    assert DeadLetter.objects.get(pk=letter.pk).resolution_note == "n" * 2000


@pytest.mark.django_db
def test_acting_needs_the_permission_a_post_and_csrf(client: Client) -> None:
    letter = letter_of("nightly")
    as_user(client)
    refused = client.post(one(letter, "retry"))
    assert refused.status_code == 403 and b"trax.resolve_dead_letter" in refused.content
    refused = client.post(ACT, {"action": "acknowledge", "ids": [letter.pk], "note": "n"})
    assert refused.status_code == 403
    as_user(client, *RESOLVER)
    assert client.get(one(letter, "retry")).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator("strict", permissions=RESOLVER))
    assert strict.post(one(letter, "retry")).status_code == 403
    nothing_written()


# ── all matching ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db(transaction=True)
def test_retry_all_matching_runs_in_the_background_with_one_audit_row(client: Client) -> None:
    slow = [letter_of(f"slow-{i}", train="demo.slow") for i in range(3)]
    other = letter_of("greet")
    as_user(client, *RESOLVER)

    asked = client.post(
        reverse("dashboard:bulk_start"),
        {"page": "dead_letters", "action": "retry", "q": "train:demo.slow"},
    )
    assert b'data-metric="bulk-count">3<' in asked.content and not console_audit().exists()
    started = client.post(
        reverse("dashboard:bulk_start"),
        {"page": "dead_letters", "action": "retry", "q": "train:demo.slow", "confirm": "yes"},
    )
    assert started.status_code == 302
    assert wait_for_bulk_operations(timeout=30)

    assert {d.status for d in DeadLetter.objects.filter(pk__in=[d.pk for d in slow])} == {"retried"}
    assert DeadLetter.objects.get(pk=other.pk).status == "awaiting_intervention"
    assert WorkQueue.objects.filter(dead_letter__isnull=False).count() == 3
    operation = BulkOperation.objects.get()
    assert (operation.state, operation.changed) == ("done", 3)
    audit = console_audit().get()
    assert (audit.action, audit.target, audit.detail["changed"]) == (
        "dead_letters.retry",
        f"bulk:{operation.pk}",
        3,
    )


@pytest.mark.django_db(transaction=True)
def test_acknowledge_all_matching_needs_its_note(client: Client) -> None:
    letters = [letter_of(f"m{i}") for i in range(2)]
    as_user(client, *RESOLVER)
    form = {"page": "dead_letters", "action": "acknowledge", "q": "", "confirm": "yes"}

    refused = client.post(reverse("dashboard:bulk_start"), form)
    assert refused.status_code == 400 and b"needs a note" in refused.content
    refused = client.post(reverse("dashboard:bulk_start"), {**form, "note": "x" * 2001})
    assert refused.status_code == 400 and b"at most 2000" in refused.content
    nothing_written()
    assert not BulkOperation.objects.exists()

    client.post(reverse("dashboard:bulk_start"), {**form, "note": "outage"})
    assert wait_for_bulk_operations(timeout=30)
    assert {
        d.resolution_note for d in DeadLetter.objects.filter(pk__in=[d.pk for d in letters])
    } == {"outage"}
    assert console_audit().get().detail["params"] == {"note": "outage"}


@pytest.mark.django_db
def test_the_all_matching_buttons_show_only_to_who_may_press_them(client: Client) -> None:
    as_user(client)
    assert b"Retry all matching" not in client.get(URL).content
    as_user(client, *RESOLVER)
    html = client.get(URL).content.decode()
    assert "Retry all matching" in html and "Acknowledge all matching" in html
