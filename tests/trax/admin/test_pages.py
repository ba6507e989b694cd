"""Every trax table has an admin page that loads; engine-owned tables are read-only."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.trax.admin.conftest import Rows
from trax.admin.base import CappedCountPaginator
from trax.models import Log, Metadata, Worker

pytestmark = pytest.mark.django_db

ALL_MODELS = [
    "manifestgroup",
    "manifest",
    "metadata",
    "log",
    "workqueue",
    "deadletter",
    "backgroundjob",
    "worker",
    "leader",
    "runtimesettings",
    "audit",
    "runrollup",
    "rollupwatermark",
]
ENGINE_OWNED = [
    "metadata",
    "log",
    "workqueue",
    "deadletter",
    "backgroundjob",
    "worker",
    "leader",
    "audit",
    "runrollup",
    "rollupwatermark",
]


def url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:trax_{model}_{view}", args=args)


def test_every_trax_model_is_registered() -> None:
    registered = {model for model in admin.site._registry if model._meta.app_label == "trax"}
    assert registered == set(apps.get_app_config("trax").get_models())


def test_runs_are_listed_under_their_verbose_name(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:app_list", args=["trax"]))
    assert response.status_code == 200
    assert "Runs" in response.content.decode()


@pytest.mark.parametrize("model", ALL_MODELS)
def test_the_list_page_loads_with_a_row(admin_client: Client, rows: Rows, model: str) -> None:
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", ALL_MODELS)
def test_the_change_page_loads(admin_client: Client, rows: Rows, model: str) -> None:
    obj = rows.by_model()[model]
    response = admin_client.get(url(model, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ENGINE_OWNED)
def test_engine_owned_admins_refuse_add_change_and_delete(
    admin_client: Client, rows: Rows, model: str
) -> None:
    obj = rows.by_model()[model]
    model_admin = admin.site._registry[type(obj)]
    request = admin_client.get(url(model, "changelist")).wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert model_admin.has_view_permission(request, obj)

    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.post(url(model, "add"), {}).status_code == 403
    assert admin_client.post(url(model, "change", obj.pk), {}).status_code == 403
    assert admin_client.get(url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", ENGINE_OWNED)
def test_engine_owned_lists_offer_no_delete_action(
    admin_client: Client, rows: Rows, model: str
) -> None:
    response = admin_client.get(url(model, "changelist"))
    assert "delete_selected" not in response.content.decode()


def test_the_run_page_shows_json_pretty_and_the_stack_trace_in_a_pre(
    admin_client: Client, rows: Rows
) -> None:
    page = admin_client.get(url("metadata", "change", rows.run.pk)).content.decode()
    assert "&quot;name&quot;: &quot;Ada&quot;" in page  # indented JSON, escaped
    assert "<pre" in page and "PaymentDeclined" in page
    assert "card &lt;b&gt;declined&lt;/b&gt;" in page  # failure text is escaped
    assert "hello" in page  # the log inline
    assert url("metadata", "change", rows.child.pk) in page  # the child run inline links it
    assert url("manifest", "change", rows.manifest.pk) in page
    assert url("workqueue", "change", rows.entry.pk) in page
    assert f"{url('log', 'changelist')}?metadata__id__exact={rows.run.pk}" in page


def test_the_log_inline_shows_only_the_first_records(admin_client: Client, rows: Rows) -> None:
    from trax.admin.runs import LOG_INLINE_LIMIT

    now = rows.log.created_at
    Log.objects.bulk_create(
        Log(metadata=rows.run, level="INFO", logger="x", message=f"m{i}", created_at=now)
        for i in range(LOG_INLINE_LIMIT + 5)
    )
    response = admin_client.get(url("metadata", "change", rows.run.pk))
    log_formset = next(f for f in response.context["inline_admin_formsets"] if f.opts.model is Log)
    assert len(log_formset.formset.forms) == LOG_INLINE_LIMIT
    assert f"{LOG_INLINE_LIMIT + 6} log records" in response.content.decode()


@pytest.mark.parametrize("model", ["metadata", "log", "workqueue"])
def test_big_lists_never_count_the_whole_table(
    admin_client: Client, rows: Rows, model: str
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].model_admin.date_hierarchy is None
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the list shows a count"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


def test_a_capped_count_says_so(
    admin_client: Client, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CappedCountPaginator, "MAX_COUNTED_ROWS", 1)
    response = admin_client.get(url("metadata", "changelist"))
    assert response.context["cl"].result_count == 1
    assert [str(m) for m in response.context["messages"]] == [
        "Only the first 1 matching runs are counted and paged; "
        "filter or search to reach the others."
    ]
    response = admin_client.get(url("metadata", "changelist"), {"train_state": "failed"})
    assert not list(response.context["messages"])


@pytest.mark.parametrize(
    "query",
    [
        "train_state=failed",
        "name=demo.greet",
        "host_environment=prod",
        "created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00",
        "cancellation_requested__exact=1",
        "manifest__id__exact=1",
        "parent__id__exact=1",
        "q=demo",
        "q=Payment",
    ],
)
def test_run_list_filters_load(admin_client: Client, rows: Rows, query: str) -> None:
    assert admin_client.get(f"{url('metadata', 'changelist')}?{query}").status_code == 200


def test_searching_runs_by_id_or_external_id_finds_that_run(
    admin_client: Client, rows: Rows
) -> None:
    for term in (str(rows.run.pk), str(rows.run.external_id)):
        response = admin_client.get(url("metadata", "changelist"), {"q": term})
        assert [run.pk for run in response.context["cl"].result_list] == [rows.run.pk]
    response = admin_client.get(url("workqueue", "changelist"), {"q": str(rows.entry.external_id)})
    assert [entry.pk for entry in response.context["cl"].result_list] == [rows.entry.pk]


def test_the_run_filter_offers_registered_train_names(admin_client: Client, rows: Rows) -> None:
    page = admin_client.get(url("metadata", "changelist")).content.decode()
    assert "demo.always_fails" in page  # registered, though no run has it


def test_logs_can_be_listed_for_one_run(admin_client: Client, rows: Rows) -> None:
    other = Metadata.objects.create(name="demo.greet")
    Log.objects.create(
        metadata=other, level="ERROR", logger="x", message="other", created_at=rows.log.created_at
    )
    response = admin_client.get(url("log", "changelist"), {"metadata__id__exact": rows.run.pk})
    assert response.status_code == 200
    assert [log.pk for log in response.context["cl"].result_list] == [rows.log.pk]
    response = admin_client.get(url("log", "changelist"), {"level": "ERROR"})
    assert [log.metadata_id for log in response.context["cl"].result_list] == [other.pk]


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("workqueue", "status__exact=queued"),
        ("deadletter", "status__exact=awaiting_intervention"),
        ("backgroundjob", "claim=claimed"),
        ("backgroundjob", "claim=expired"),
        ("worker", "kind__exact=worker"),
        ("audit", "action__exact=run.cancel"),
    ],
)
def test_queue_worker_and_audit_filters_load(
    admin_client: Client, rows: Rows, model: str, query: str
) -> None:
    assert admin_client.get(f"{url(model, 'changelist')}?{query}").status_code == 200


def test_a_fresh_worker_shows_as_alive(admin_client: Client, rows: Rows) -> None:
    response = admin_client.get(url("worker", "changelist"))
    worker = response.context["cl"].result_list[0]
    assert isinstance(worker, Worker)
    assert response.context["cl"].model_admin.is_alive(worker) is True


@pytest.mark.parametrize("model", ["manifest", "manifestgroup"])
def test_editable_models_have_an_add_page(admin_client: Client, model: str) -> None:
    assert admin_client.get(url(model, "add")).status_code == 200


def test_runtime_settings_is_a_singleton(admin_client: Client, rows: Rows) -> None:
    assert admin_client.get(url("runtimesettings", "add")).status_code == 403
    delete = url("runtimesettings", "delete", rows.settings_row.pk)
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert (
        admin_client.get(url("runtimesettings", "change", rows.settings_row.pk)).status_code == 200
    )


def test_runtime_settings_can_be_added_when_there_is_none(admin_client: Client) -> None:
    assert admin_client.get(url("runtimesettings", "add")).status_code == 200


@pytest.mark.parametrize("model", ["metadata", "manifest", "runtimesettings", "audit"])
def test_non_staff_users_are_sent_to_the_login_page(rows: Rows, model: str) -> None:
    client = Client()
    user = get_user_model().objects.create_user("plain", password="pw-12345678")
    client.force_login(user)
    login = reverse("admin:login")
    for target in (url(model, "changelist"), url(model, "change", rows.by_model()[model].pk)):
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(login)
    anonymous = Client().get(url(model, "changelist"))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(login)


def test_a_manifest_declared_in_code_warns_that_start_up_restores_it(
    admin_client: Client, rows: Rows
) -> None:
    page = admin_client.get(url("manifest", "change", rows.manifest.pk)).content.decode()
    assert "start-up sync restores" not in page
    rows.manifest.declared_in_code = True
    rows.manifest.save()
    page = admin_client.get(url("manifest", "change", rows.manifest.pk)).content.decode()
    assert "the next start-up sync restores the fields the code declares" in page
