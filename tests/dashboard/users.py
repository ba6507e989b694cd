"""The console's users in tests: an operator is staff with the console's view permission."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission


def operator(username: str = "ops", *, permissions: tuple[str, ...] = ("view_console",)) -> Any:
    """A staff user (not a superuser) holding ``permissions`` (codenames of the trax app)."""
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="trax", codename__in=permissions)
    )
    return user
