"""Runs (``Metadata``) and their log records: read-only pages, plus cancelling active runs
through ``trax.api.cancel_run`` (the only write the admin makes to run state)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from trax.admin.base import (
    CappedCountMixin,
    EngineOwnedAdmin,
    IdentifierSearchMixin,
    ReadOnlyTabularInline,
    actor_of,
    changelist_link,
    preformatted,
    pretty_json,
)
from trax.models import BackgroundJob, Log, Metadata, TrainState, WorkQueue
from trax.models.choices import ACTIVE_STATES
from trax.registry import registry
from trax.store import audit_record, run_records_alias

LOG_INLINE_LIMIT = 200
CHILD_RUN_INLINE_LIMIT = 100
RECENT_RUNS_FOR_FILTERS = 1000
MAX_RUNS_CANCELLED_PER_ACTION = 500
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _recent_values(field: str) -> list[str]:
    """Distinct values of ``field`` among the latest runs (walks the primary key index backwards
    a bounded distance, never the whole table)."""
    recent = Metadata.objects.order_by("-id").values_list(field, flat=True)[
        :RECENT_RUNS_FOR_FILTERS
    ]
    return sorted({value for value in recent if value})


class TrainNameFilter(admin.SimpleListFilter):
    """Train names: every registered train plus names seen in recent runs (a removed train's
    old runs stay reachable by search)."""

    title = "train"
    parameter_name = "name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = sorted(set(registry.names()) | set(_recent_values("name")))
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(name=value) if value else queryset


class HostEnvironmentFilter(admin.SimpleListFilter):
    """Host environments seen in recent runs (a ``DISTINCT`` over all runs would scan them)."""

    title = "host environment"
    parameter_name = "host_environment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(env, env) for env in _recent_values("host_environment")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(host_environment=value) if value else queryset


class LogLevelFilter(admin.SimpleListFilter):
    """Fixed log levels (no ``DISTINCT`` over the log table)."""

    title = "level"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(level, level.title()) for level in LOG_LEVELS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(level=value) if value else queryset


def _format_duration(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _first_rows(queryset: QuerySet[Any], limit: int) -> QuerySet[Any]:
    """The first ``limit`` rows of ``queryset`` by id, as a queryset that can still be filtered
    (an inline formset filters the queryset it is given, which a slice forbids)."""
    cutoff = list(queryset.order_by("id").values_list("id", flat=True)[limit - 1 : limit])
    return queryset.filter(id__lte=cutoff[0]) if cutoff else queryset


class LogInline(ReadOnlyTabularInline):
    model = Log
    fields = ("created_at", "level", "logger", "message", "exception_text")
    readonly_fields = fields
    show_change_link = False
    verbose_name = "log record"
    verbose_name_plural = f"log records (the first {LOG_INLINE_LIMIT}; all under Links)"
    classes = ("collapse",)

    @admin.display(description="exception")
    def exception_text(self, obj: Log) -> SafeString | str:
        return preformatted(obj.exception)


class ChildRunInline(ReadOnlyTabularInline):
    model = Metadata
    fk_name = "parent"
    fields = ("name", "train_state", "created_at", "start_time", "end_time")
    readonly_fields = fields
    verbose_name = "child run"
    verbose_name_plural = f"child runs (the first {CHILD_RUN_INLINE_LIMIT}; all under Links)"


@admin.register(Metadata)
class MetadataAdmin(CappedCountMixin, IdentifierSearchMixin, EngineOwnedAdmin):
    """Runs: read-only; active runs can be cancelled (selected ones, or from the run's page)."""

    list_display = (
        "id",
        "name",
        "train_state",
        "created_at",
        "start_time",
        "duration",
        "attempt",
        "manifest",
        "host_name",
        "cancellation_requested",
    )
    list_display_links = ("id", "name")
    list_filter = (
        "train_state",
        TrainNameFilter,
        HostEnvironmentFilter,
        ("created_at", admin.DateFieldListFilter),
        "cancellation_requested",
    )
    search_fields = ("name", "failure_exception")
    search_help_text = "A run id, an external id (UUID), or text in the train name or exception."
    list_select_related = ("manifest",)
    # Newest first by primary key: the same order as created_at, served by the pk index.
    ordering = ("-id",)
    # A capped count (CappedCountMixin) and no date hierarchy: a full count or the
    # hierarchy's DISTINCT dates would scan the runs table on every page.
    actions = ("cancel_selected_runs",)
    inlines = (LogInline, ChildRunInline)

    readonly_fields = (
        "name",
        "external_id",
        "executor",
        "attempt",
        "train_state",
        "cancellation_requested",
        "cancel_reason",
        "currently_running_junction",
        "junction_started_at",
        "cancel_button",
        "created_at",
        "scheduled_time",
        "start_time",
        "end_time",
        "duration",
        "input_json",
        "output_json",
        "failure_junction",
        "failure_exception",
        "failure_reason",
        "stack_trace_text",
        "host_name",
        "host_environment",
        "host_instance_id",
        "host_labels_json",
        "parent",
        "manifest",
        "work_queue",
        "background_job_link",
        "retry_entry_link",
        "logs_link",
        "children_link",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        state: tuple[str, ...] = (
            "train_state",
            "cancellation_requested",
            "cancel_reason",
            "currently_running_junction",
            "junction_started_at",
        )
        if (
            obj is not None
            and obj.train_state in ACTIVE_STATES
            and self.has_cancel_permission(request)
        ):
            state += ("cancel_button",)
        failed = obj is not None and (obj.train_state == TrainState.FAILED or obj.stack_trace)
        return (
            ("Identity", {"fields": ("name", "external_id", "executor", "attempt")}),
            ("State", {"fields": state}),
            (
                "Timing",
                {"fields": ("created_at", "scheduled_time", "start_time", "end_time", "duration")},
            ),
            ("Input & output", {"fields": ("input_json", "output_json")}),
            (
                "Failure",
                {
                    "fields": (
                        "failure_junction",
                        "failure_exception",
                        "failure_reason",
                        "stack_trace_text",
                    ),
                    "classes": () if failed else ("collapse",),
                },
            ),
            (
                "Host",
                {
                    "fields": (
                        "host_name",
                        "host_environment",
                        "host_instance_id",
                        "host_labels_json",
                    ),
                    "classes": ("collapse",),
                },
            ),
            (
                "Links",
                {
                    "fields": (
                        "parent",
                        "manifest",
                        "work_queue",
                        "background_job_link",
                        "retry_entry_link",
                        "logs_link",
                        "children_link",
                    )
                },
            ),
        )

    def get_formset_kwargs(
        self, request: HttpRequest, obj: Any, inline: Any, prefix: str
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, LogInline):
            kwargs["queryset"] = _first_rows(Log.objects.filter(metadata=obj), LOG_INLINE_LIMIT)
        elif isinstance(inline, ChildRunInline):
            kwargs["queryset"] = _first_rows(
                Metadata.objects.filter(parent=obj), CHILD_RUN_INLINE_LIMIT
            )
        return kwargs

    # Columns and read-only fields.

    @admin.display(description="duration")
    def duration(self, obj: Metadata) -> str:
        if obj.start_time is None or obj.end_time is None:
            return ""
        return _format_duration(obj.end_time - obj.start_time)

    @admin.display(description="input")
    def input_json(self, obj: Metadata) -> SafeString:
        return pretty_json(obj.input)

    @admin.display(description="output")
    def output_json(self, obj: Metadata) -> SafeString:
        return pretty_json(obj.output)

    @admin.display(description="host labels")
    def host_labels_json(self, obj: Metadata) -> SafeString:
        return pretty_json(obj.host_labels)

    @admin.display(description="stack trace")
    def stack_trace_text(self, obj: Metadata) -> SafeString | str:
        return preformatted(obj.stack_trace)

    @admin.display(description="background job")
    def background_job_link(self, obj: Metadata) -> SafeString | str:
        job = BackgroundJob.objects.filter(metadata=obj).only("id").first()
        if job is None:
            return "-"
        url = reverse("admin:trax_backgroundjob_change", args=[job.pk])
        return format_html('<a href="{}">{}</a>', url, job)

    @admin.display(description="retried by")
    def retry_entry_link(self, obj: Metadata) -> SafeString | str:
        entry = WorkQueue.objects.filter(retry_of=obj).only("id", "train_name", "status").first()
        if entry is None:
            return "-"
        url = reverse("admin:trax_workqueue_change", args=[entry.pk])
        return format_html('<a href="{}">{}</a>', url, entry)

    @admin.display(description="log records")
    def logs_link(self, obj: Metadata) -> SafeString:
        count = Log.objects.filter(metadata=obj).count()
        return changelist_link(
            Log, f"{count} log record{'s' * (count != 1)}", metadata__id__exact=obj.pk
        )

    @admin.display(description="child runs")
    def children_link(self, obj: Metadata) -> SafeString:
        count = Metadata.objects.filter(parent=obj).count()
        return changelist_link(
            Metadata, f"{count} child run{'s' * (count != 1)}", parent__id__exact=obj.pk
        )

    @admin.display(description="cancel")
    def cancel_button(self, obj: Metadata) -> SafeString:
        url = reverse(
            f"{self.admin_site.name}:trax_metadata_cancel",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )
        # The change page is one <form> with a CSRF token; formaction sends it to our view.
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" '
            'formnovalidate name="_cancel_run">Cancel this run</button>'
            '<div class="help">Pending: cancelled at once. In progress: flagged, it stops at '
            "its next junction. Child runs are cancelled with it.</div>",
            url,
        )

    # Cancelling.

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Cancelling needs the model's change permission (this admin refuses field edits)."""
        codename = get_permission_codename("change", self.opts)
        return bool(request.user.has_perm(f"{self.opts.app_label}.{codename}"))

    @admin.action(description="Cancel selected runs", permissions=["cancel"])
    def cancel_selected_runs(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        active = list(
            queryset.filter(train_state__in=ACTIVE_STATES)
            .order_by("id")
            .values_list("id", "train_state")[: MAX_RUNS_CANCELLED_PER_ACTION + 1]
        )
        left_out = max(0, len(active) - MAX_RUNS_CANCELLED_PER_ACTION)
        active = active[:MAX_RUNS_CANCELLED_PER_ACTION]
        counts: Counter[str] = Counter()
        for run_id, state in active:
            counts[self._cancel_one(request, run_id, state)] += 1
        counts["skipped"] += queryset.count() - len(active) - left_out
        level = messages.SUCCESS if counts["cancelled"] or counts["flagged"] else messages.WARNING
        self.message_user(request, _describe_cancel(counts, left_out), level)

    def _cancel_one(self, request: HttpRequest, run_id: int, previous_state: str) -> str:
        """Cancel one run through the public API, audit it; returns ``cancelled``, ``flagged``
        (in progress: stops at its next junction) or ``skipped`` (it finished meanwhile)."""
        from trax.api import UnknownRunError, cancel_run

        try:
            affected = cancel_run(run_id)
        except UnknownRunError:  # deleted meanwhile (cleanup)
            return "skipped"
        state, flagged = (
            Metadata.objects.using(run_records_alias())
            .filter(pk=run_id)
            .values_list("train_state", "cancellation_requested")
            .get()
        )
        if state == TrainState.CANCELLED:
            outcome = "cancelled"
        elif flagged and state in ACTIVE_STATES:
            outcome = "flagged"
        else:
            return "skipped"
        audit_record(
            actor=actor_of(request),
            action="run.cancel",
            target=f"run:{run_id}",
            detail={
                "outcome": outcome,
                "previous_state": previous_state,
                "runs_affected": affected,
                "via": "admin",
            },
        )
        return outcome

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        cancel = path(
            "<path:object_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name=f"{opts.app_label}_{opts.model_name}_cancel",
        )
        return [cancel, *super().get_urls()]

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only (CSRF-checked by ``admin_view``), staff with the cancel permission."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        run = self.get_object(request, unquote(object_id))
        if run is None:
            self.message_user(request, f"No run has the id {object_id!r}.", messages.WARNING)
            return HttpResponseRedirect(
                reverse(
                    f"{self.admin_site.name}:trax_metadata_changelist",
                    current_app=self.admin_site.name,
                )
            )
        change_url = reverse(
            f"{self.admin_site.name}:trax_metadata_change",
            args=[run.pk],
            current_app=self.admin_site.name,
        )
        if run.train_state not in ACTIVE_STATES:
            self.message_user(
                request, f"{run} had already finished; nothing to cancel.", messages.WARNING
            )
            return HttpResponseRedirect(change_url)
        counts = Counter([self._cancel_one(request, run.pk, run.train_state)])
        level = messages.SUCCESS if counts["cancelled"] or counts["flagged"] else messages.WARNING
        self.message_user(request, _describe_cancel(counts, 0), level)
        return HttpResponseRedirect(change_url)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _describe_cancel(counts: Counter[str], left_out: int) -> str:
    parts: list[str] = []
    if counts["cancelled"]:
        parts.append(f"cancelled {_plural(counts['cancelled'], 'run')}")
    if counts["flagged"]:
        parts.append(
            f"flagged {_plural(counts['flagged'], 'running run')} to stop at the next junction"
        )
    if counts["skipped"]:
        parts.append(f"skipped {_plural(counts['skipped'], 'run')} that had already finished")
    if left_out:
        parts.append(
            f"left {_plural(left_out, 'more active run')} alone (at most "
            f"{MAX_RUNS_CANCELLED_PER_ACTION} per action; run it again)"
        )
    text = "; ".join(parts) or "nothing to cancel"
    return text[:1].upper() + text[1:] + "."


@admin.register(Log)
class LogAdmin(CappedCountMixin, EngineOwnedAdmin):
    """Log records of runs: read-only; filter by run with ``?metadata__id__exact=<run id>``."""

    list_display = ("id", "created_at", "level", "logger", "short_message", "run")
    list_display_links = ("id", "short_message")
    list_filter = (LogLevelFilter,)
    search_fields = ("message", "logger")
    list_select_related = ("metadata",)
    ordering = ("-id",)
    fieldsets = (
        ("Record", {"fields": ("metadata", "created_at", "level", "logger")}),
        ("Message", {"fields": ("message_text", "exception_text")}),
    )
    readonly_fields = (
        "metadata",
        "created_at",
        "level",
        "logger",
        "message_text",
        "exception_text",
    )

    @admin.display(description="message")
    def short_message(self, obj: Log) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.display(description="run", ordering="metadata_id")
    def run(self, obj: Log) -> SafeString:
        url = reverse("admin:trax_metadata_change", args=[obj.metadata_id])
        return format_html('<a href="{}">{}</a>', url, obj.metadata)

    @admin.display(description="message")
    def message_text(self, obj: Log) -> SafeString | str:
        return preformatted(obj.message)

    @admin.display(description="exception")
    def exception_text(self, obj: Log) -> SafeString | str:
        return preformatted(obj.exception)


__all__ = ["LogAdmin", "MetadataAdmin"]
