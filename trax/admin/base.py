"""Shared pieces of the trax admin: read-only admins for engine-owned tables, JSON and stack
trace rendering, links between objects, identifier search and audit rows for admin edits."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from trax.store import audit_record


def pretty_json(value: Any) -> SafeString:
    """JSON indented for reading, in a ``<pre>`` (escaped)."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


def preformatted(text: str) -> SafeString | str:
    """Multi-line text (a stack trace) in a ``<pre>``; empty text stays empty."""
    if not text:
        return ""
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


def change_link(obj: models.Model | None, label: str | None = None) -> SafeString | str:
    """A link to ``obj``'s admin change page (plain text if it has none)."""
    if obj is None:
        return "-"
    opts = obj._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def changelist_link(model: type[models.Model], label: str, **filters: Any) -> SafeString:
    """A link to ``model``'s admin list, filtered by ``filters`` (``manifest__id__exact=3``)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def actor_of(request: HttpRequest) -> str:
    """Who an audit row names for this request."""
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else "anonymous"


class CappedCountPaginator(Paginator):
    """A paginator that counts at most ``MAX_COUNTED_ROWS`` rows (``SELECT COUNT(*) FROM
    (... LIMIT n)``), so a list page never counts a whole large table; ``capped`` says whether
    there were more. ``show_full_result_count = False`` removes the other count the admin
    makes."""

    MAX_COUNTED_ROWS = 10_000
    capped = False

    @cached_property
    def count(self) -> int:
        object_list: Any = self.object_list
        if not isinstance(object_list, QuerySet):
            return len(object_list)
        counted = object_list[: self.MAX_COUNTED_ROWS + 1].count()
        self.capped = counted > self.MAX_COUNTED_ROWS
        return min(counted, self.MAX_COUNTED_ROWS)


class CappedCountMixin:
    """List pages of big engine tables: a capped count, no full count, and a note when the
    count was capped (the newest rows stay reachable; filters reach older ones)."""

    paginator: ClassVar[type] = CappedCountPaginator
    show_full_result_count = False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = getattr(response, "context_data", None) or {}
        paginator = getattr(changelist.get("cl"), "paginator", None)
        if isinstance(paginator, CappedCountPaginator) and paginator.capped:
            plural = self.model._meta.verbose_name_plural  # type: ignore[attr-defined]
            messages.info(
                request,
                f"Only the first {CappedCountPaginator.MAX_COUNTED_ROWS:,} matching {plural} "
                "are counted and paged; filter or search to reach the others.",
            )
        return response


class EngineOwnedAdmin(admin.ModelAdmin):
    """Rows the engine writes (runs, queues, workers, ...): staff may look, never add, change
    or delete. Deleting belongs to the cleanup job; changing state belongs to ``trax.store``."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline listing related engine rows without forms to edit them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentifierSearchMixin:
    """Search that looks a UUID up by ``external_id`` and a number up by id (both indexed)
    before falling back to ``search_fields``, so pasting a run's id never scans the table."""

    uuid_search_field: str | None = "external_id"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        if self.uuid_search_field is not None:
            try:
                identifier = uuid.UUID(term)
            except ValueError:
                pass
            else:
                return queryset.filter(**{self.uuid_search_field: identifier}), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


class AuditedAdminMixin:
    """Writes an audit row (``<noun>.create|change|delete``) for each save and delete made in
    the admin, in the admin's own transaction."""

    audit_noun: str = ""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        self.persist(request, obj, form, change)
        audit_record(
            actor=actor_of(request),
            action=f"{self.audit_noun}.{'change' if change else 'create'}",
            target=f"{self.audit_noun}:{obj.pk}",
            detail={"changed": sorted(form.changed_data), "via": "admin"},
        )

    def persist(self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool) -> None:
        """Write the object (the admin's usual save); override to write less."""
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        pk = obj.pk
        self.remove(request, [obj])
        self.audit_deleted(request, [(pk, str(obj))])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        doomed = [(obj.pk, str(obj)) for obj in queryset]
        self.remove(request, list(queryset))
        self.audit_deleted(request, doomed)

    def remove(self, request: HttpRequest, objs: list[Any]) -> None:
        """Delete the objects (the admin's usual delete); override to delete through the store."""
        for obj in objs:
            super().delete_model(request, obj)  # type: ignore[misc]

    def audit_deleted(self, request: HttpRequest, doomed: list[tuple[Any, str]]) -> None:
        for pk, name in doomed:
            audit_record(
                actor=actor_of(request),
                action=f"{self.audit_noun}.delete",
                target=f"{self.audit_noun}:{pk}",
                detail={"name": name, "via": "admin"},
            )
