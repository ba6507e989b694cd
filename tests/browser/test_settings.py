"""The Settings page in the browser: staff shorten the manager's polling interval on the page,
see its source become "runtime", and a running scheduler (a real child process polling every
60 s) starts cycling at the new interval without a restart. Screenshots: settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

from tests.browser.playwright_thread import expect
from tests.integration.conftest import Children, wait_for, wait_until_leading
from trax.models import Leader, Manifest, RuntimeSettings
from trax.scheduling.declarations import schedules
from trax.scheduling.manifests import save_declarations


def lease_expiry() -> object:
    return Leader.objects.filter(name="manager").values_list("expires_at", flat=True).first()


def test_a_setting_changed_on_the_page_reaches_a_running_scheduler(
    staff_user: Any,
    staff_page: Any,
    screenshots: Any,
    child_process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    staff_user.user_permissions.add(Permission.objects.get(codename="change_runtime_settings"))
    # The demo schedules stay quiet: synced and disabled before the scheduler starts.
    save_declarations(schedules.declarations, now=timezone.now(), declared_in_code=True)
    Manifest.objects.update(is_enabled=False, is_enabled_overridden=True)
    children = Children(child_process_env, tmp_path)
    try:
        scheduler = children.dispatcher(settings={"MANAGER_POLLING_INTERVAL_SECONDS": 60})
        wait_until_leading(scheduler)
        first = wait_for(lease_expiry, "the scheduler's first cycle")

        staff_page.goto("/trax/settings/")
        row = staff_page.locator('tr[data-setting="MANAGER_POLLING_INTERVAL_SECONDS"]')
        expect(row).to_contain_text("default")
        screenshots(staff_page, "settings")
        staff_page.get_by_text("Change runtime settings").click()
        staff_page.get_by_label("MANAGER_POLLING_INTERVAL_SECONDS").fill("0.2")
        staff_page.get_by_role("button", name="Save").click()

        expect(staff_page.get_by_role("status")).to_contain_text(
            "Saved MANAGER_POLLING_INTERVAL_SECONDS"
        )
        expect(row).to_contain_text("runtime")
        expect(row.locator("td.value")).to_have_text("0.2")
        assert RuntimeSettings.objects.get().updated_by == staff_user.get_username()
        # The running scheduler cuts its 60 s sleep short and cycles at the new interval.
        wait_for(lambda: lease_expiry() != first, "the scheduler to apply it", limit=10)
    finally:
        children.kill_all()


def test_a_bad_value_is_named_on_the_page_and_nothing_is_saved(
    staff_user: Any, staff_page: Any
) -> None:
    staff_user.user_permissions.add(Permission.objects.get(codename="change_runtime_settings"))
    staff_page.goto("/trax/settings/")
    staff_page.get_by_text("Change runtime settings").click()
    staff_page.get_by_label("MAX_ACTIVE_JOBS").fill("-3")
    staff_page.get_by_role("button", name="Save").click()

    expect(staff_page.get_by_role("status")).to_contain_text("Nothing saved.")
    expect(staff_page.locator(".field.invalid")).to_contain_text("MAX_ACTIVE_JOBS")
    assert not RuntimeSettings.objects.exists()
