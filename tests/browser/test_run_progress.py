"""A slow run watched on its page: its junction progress moves on live, as a real scheduler's
worker publishes it, and Cancel stops it there — the page then shows it cancelled (issue 9's
done-means list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import Permission

import trax
from tests.browser.playwright_thread import expect
from tests.integration.conftest import Children, wait_for
from trax.models import Metadata, TrainState


def test_a_slow_runs_progress_moves_live_and_cancel_stops_it(
    staff_page: Any,
    staff_user: Any,
    screenshots: Any,
    child_process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    staff_user.user_permissions.add(Permission.objects.get(codename="cancel_run"))
    tmp_path.chmod(0o777)
    processes = Children(child_process_env, tmp_path)
    try:
        processes.scheduler(
            settings={
                "JUNCTION_PROGRESS": True,
                "HEARTBEAT_INTERVAL_SECONDS": 1.0,
                "LEASE_SECONDS": 5,
            }
        )
        trax.enqueue("demo.stages", {"seconds_per_stage": 4.0})
        run = wait_for(
            lambda: Metadata.objects.filter(
                name="demo.stages", train_state=TrainState.IN_PROGRESS
            ).first(),
            "the run started by the scheduler's worker",
            limit=90,
        )
        staff_page.goto(f"/trax/runs/{run.pk}/")
        steps = staff_page.locator(".pipeline .step")

        # The page is not reloaded: the junction it is in moves on through the live socket.
        expect(steps.nth(1)).to_have_class("step running", timeout=15_000)
        expect(steps.nth(0)).to_have_class("step completed")
        expect(steps.nth(2)).to_have_class("step waiting")
        expect(steps.nth(1).locator("[data-elapsed]")).to_be_visible()
        screenshots(staff_page, "run-running")

        staff_page.get_by_role("button", name="Cancel this run").click()

        expect(staff_page.locator(".run-title span")).to_have_text("Cancelled", timeout=15_000)
        expect(staff_page.locator(".pipeline .step.cancelled")).to_have_count(1)
        expect(staff_page.locator(".pipeline .step.running")).to_have_count(0)
        run.refresh_from_db()
        assert run.train_state == TrainState.CANCELLED
        took = (run.end_time - run.start_time).total_seconds()
        assert took < 3 * 4.0, f"the run went on to its end ({took:.1f} s) instead of stopping"
    finally:
        processes.kill_all()
