"""The run page: the pipeline with each junction's state and duration, the failure, input and
output escaped, the lineage; cancelling needs its own permission and is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import trax
from tests.dashboard.users import operator
from trax.models import Audit, Metadata, TrainState
from trax.testing import drain, run_scheduler_cycle

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(operator())
    return client


def page(client: Client, run: Metadata) -> str:
    response = client.get(reverse("dashboard:run", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_completed_run_shows_every_junction_done_with_its_duration(viewer: Client) -> None:
    trax.enqueue("demo.greet", {"name": "<b>Ada</b>"})
    drain()
    run = Metadata.objects.get(name="demo.greet")

    html = page(viewer, run)
    steps = html.split('class="step ')[1:]

    assert len(steps) == len(run.junction_timings) > 0
    assert all(step.startswith("completed") for step in steps)
    assert "&lt;b&gt;Ada&lt;/b&gt;" in html and "<b>Ada</b>" not in html
    assert "attempt 1: this run" in html


def test_a_failed_run_shows_the_failure_and_skips_what_it_never_reached(viewer: Client) -> None:
    trax.enqueue("demo.always_fails", {"name": "x"})
    drain()
    run = Metadata.objects.get(name="demo.always_fails")

    html = page(viewer, run)

    assert 'class="step failed"' in html and 'class="step skipped"' in html
    assert run.failure_exception in html and "Stack trace" in html


def test_an_unknown_run_is_not_found(viewer: Client) -> None:
    assert viewer.get(reverse("dashboard:run", args=[999999])).status_code == 404


def test_cancelling_needs_its_permission_and_is_audited(client: Client) -> None:
    run = Metadata.objects.create(name="demo.slow", input={"steps": 5})
    url = reverse("dashboard:cancel", args=[run.pk])

    client.force_login(operator("reader"))
    refused = client.post(url)
    assert refused.status_code == 403 and b"trax.cancel_run" in refused.content
    assert Metadata.objects.get(pk=run.pk).train_state == TrainState.PENDING

    client.force_login(operator("canceller", permissions=("view_console", "cancel_run")))
    assert client.get(url).status_code == 405
    done = client.post(url, follow=True)

    assert done.status_code == 200
    assert f"Run {run.pk} cancelled" in done.content.decode()
    assert Metadata.objects.get(pk=run.pk).train_state == TrainState.CANCELLED
    audit = Audit.objects.get(action="run.cancel")
    assert (audit.actor, audit.target) == ("canceller", f"run:{run.pk}")


def test_a_running_run_shows_the_junctions_behind_it_done_and_its_own_time_ticking(
    viewer: Client,
) -> None:
    run = Metadata.objects.create(
        name="demo.stages",
        input={"seconds_per_stage": 1},
        train_state=TrainState.IN_PROGRESS,
        currently_running_junction="process",
    )
    Metadata.objects.filter(pk=run.pk).update(
        start_time=timezone.now() - timedelta(seconds=30),
        junction_started_at=timezone.now() - timedelta(seconds=12),
    )
    run.refresh_from_db()

    html = page(viewer, run)
    steps = html.split('class="step ')[1:]

    assert [step.split('"')[0] for step in steps] == ["completed", "running", "waiting"]
    assert 'data-elapsed="1' in steps[1]  # about 12 s so far, advanced by the page's script

    listed = viewer.get(reverse("dashboard:runs")).content.decode()
    assert "process · <span data-elapsed=" in listed  # the junction and its time so far


def test_a_schedules_run_lists_the_dependents_its_success_fired(viewer: Client) -> None:
    trax.scheduler.schedule("nightly", "demo.greet", {"name": "p"}, trax.Every.hours(24))
    trax.scheduler.schedule_dependent("after-nightly", "demo.greet", {"name": "d"}, "nightly")
    trax.scheduler.trigger("nightly")
    drain()
    run_scheduler_cycle()  # the manager queues the dependent of the success
    drain()
    parent = Metadata.objects.filter(manifest__external_id="nightly").earliest("id")

    html = page(viewer, parent)

    assert "fired dependent schedule after-nightly" in html
    child = Metadata.objects.filter(manifest__external_id="after-nightly").earliest("id")
    assert f'href="{reverse("dashboard:run", args=[child.pk])}">#{child.pk}</a>' in html
