"""The dependency graphs the schedules pages draw: manifests (after-success and dormant
activation edges) and the manifest groups those edges join."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q
from django.urls import reverse
from django.utils.safestring import SafeString

from dashboard.schedules.drawing import Edge, Node, draw
from dashboard.schedules.listing import words_of
from dashboard.schedules.search import annotated
from trax.models import Manifest, ManifestGroup, ScheduleType

#: Most manifests drawn; past it the page says how many were left out.
MAX_NODES = 300
#: Worst first: a group takes the colour of its worst member's last run.
_WORST = ("failed", "cancelled", "in_progress", "pending", "completed")


@dataclass(frozen=True)
class Graphs:
    """Both pictures (SVG markup, "" when there is nothing to draw) and what was left out."""

    manifests: SafeString
    groups: SafeString
    left_out: int


def dependency_graphs(*, using: str) -> Graphs:
    """The manifests that run after another or that another runs after, and the groups
    such links join."""
    linked = (
        annotated(Manifest.objects.using(using))
        .filter(Q(depends_on__isnull=False) | Q(dependents__isnull=False))
        .select_related("depends_on", "group")
        .distinct()
        .order_by("external_id")
    )
    total = linked.count()
    manifests = list(linked[:MAX_NODES])
    nodes = [
        Node(
            key=str(m.pk),
            label=m.external_id,
            note=words_of(m),
            href=reverse("dashboard:schedule", args=[m.pk]),
            outcome=_outcome(m.last_state, blocked=m.blocked),
        )
        for m in manifests
    ]
    edges = [
        Edge(
            str(m.depends_on_id),
            str(m.pk),
            dormant=m.schedule_type == ScheduleType.DORMANT_DEPENDENT,
        )
        for m in manifests
        if m.depends_on_id
    ]
    return Graphs(
        draw(nodes, edges, title="Schedules and what they run after"),
        _group_graph(using=using),
        max(total - MAX_NODES, 0),
    )


def _outcome(state: str | None, *, blocked: bool = False) -> str:
    return "failed" if blocked else state or "none"


def _group_graph(*, using: str) -> SafeString:
    """Groups joined by a manifest of one running after a manifest of another."""
    links = set(
        Manifest.objects.using(using)
        .filter(depends_on__isnull=False)
        .exclude(group_id=F("depends_on__group_id"))
        .values_list("depends_on__group_id", "group_id")
    )
    linked = {group_id for link in links for group_id in link}
    groups = list(ManifestGroup.objects.using(using).filter(id__in=linked).order_by("name"))
    worst: dict[int, str] = {}
    members = annotated(Manifest.objects.using(using).filter(group_id__in=linked))
    for group_id, state in members.values_list("group_id", "last_state"):
        known = worst.get(group_id)
        if state in _WORST and (known is None or _WORST.index(state) < _WORST.index(known)):
            worst[group_id] = state
    nodes = [
        Node(
            key=str(g.pk),
            label=g.name,
            note=("enabled" if g.is_enabled else "disabled")
            + (f", at most {g.max_active_jobs} active" if g.max_active_jobs else ""),
            href=reverse("dashboard:group", args=[g.pk]),
            outcome=worst.get(g.pk, "none"),
        )
        for g in groups
    ]
    edges = [Edge(str(parent), str(child)) for parent, child in sorted(links)]
    return draw(nodes, edges, title="Manifest groups and the groups they wait on")
