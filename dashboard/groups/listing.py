"""What the Groups page shows of each manifest group: its members, limits, and runs active now."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from trax.models import Manifest, ManifestGroup
from trax.store import metadata_count_active_by_group

#: Members named per group; the rest are counted.
MEMBERS_SHOWN = 12


@dataclass(frozen=True)
class GroupRow:
    """A group, its first members by name, how many it has (and enabled), and active runs."""

    group: ManifestGroup
    members: list[Manifest]
    member_count: int
    enabled_count: int
    active: int

    @property
    def more(self) -> int:
        """Members not named."""
        return self.member_count - len(self.members)

    @property
    def at_cap(self) -> bool:
        """Whether its cap holds back more dispatches now."""
        cap = self.group.max_active_jobs
        return cap is not None and self.active >= cap


def group_rows(*, using: str, only: int | None = None) -> list[GroupRow]:
    """Every group (or the one ``only``), in name order."""
    groups = ManifestGroup.objects.using(using).annotate(
        member_count=Count("manifests"),
        enabled_count=Count("manifests", filter=Q(manifests__is_enabled=True)),
    )
    if only is not None:
        groups = groups.filter(pk=only)
    found = list(groups.order_by("name"))
    ids = [g.pk for g in found]
    active = metadata_count_active_by_group(ids, using=using)
    members: dict[int, list[Manifest]] = {g: [] for g in ids}
    for manifest in (
        Manifest.objects.using(using)
        .filter(group_id__in=ids)
        .order_by("group_id", "external_id")
        .only("id", "external_id", "group_id", "is_enabled")
    ):
        shown = members[manifest.group_id]
        if len(shown) < MEMBERS_SHOWN:
            shown.append(manifest)
    return [
        GroupRow(
            group=g,
            members=members[g.pk],
            member_count=g.member_count,
            enabled_count=g.enabled_count,
            active=active.get(g.pk, 0),
        )
        for g in found
    ]
