"""The dashboard's actions change the ledger: cancel, retry, replay, discard, run now, sync
now and full resync, each a CSRF-checked POST that redirects back with a flash message."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from syncjobs.app import SyncJobs
from syncjobs.core.browse import JobQuery
from syncjobs.core.models import Job, JobStatus
from syncjobs.core.scheduling import SYSTEM_OWNER

from .web_support import Seeded, app, csrf_of, http, seeded

__all__ = ["app", "http", "seeded"]  # the fixtures, imported for these tests


def _job(app: SyncJobs, job_id: str) -> Job:
    job = app.repository.get_job(job_id)
    assert job is not None
    return job


def _post(http: TestClient, page: str, action_path: str, **data: object) -> str:
    """POST an action from ``page``'s form; return where it redirects, after checking the flash."""
    done = http.post(action_path, data={"csrf": csrf_of(http, page), **data})  # type: ignore[arg-type]
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def _flash(http: TestClient, location: str) -> str:
    page = http.get(location)
    found = re.search(
        r'<div id="flash" class="flash flash-(\w+)" role="status">([^<]*)</div>', page.text
    )
    assert found is not None, "no flash message"
    again = http.get(location)
    assert 'id="flash"' not in again.text  # shown once
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


def test_cancel_a_pending_job(app: SyncJobs, http: TestClient, seeded: Seeded) -> None:
    page = f"/jobs/{seeded.pending.id}"

    back = _post(http, page, f"{page}/actions", action="cancel")

    assert back == page
    assert _flash(http, back) == "ok: the job is cancelled"
    assert _job(app, seeded.pending.id).status is JobStatus.CANCELLED


def test_cancel_a_running_job_asks_it_to_stop(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    page = f"/jobs/{seeded.running.id}"

    back = _post(http, page, f"{page}/actions", action="cancel")

    assert "cancel requested" in _flash(http, back)
    assert _job(app, seeded.running.id).cancel_requested
    assert 'value="cancel"' not in http.get(page).text


def test_retry_a_failed_job_queues_it_and_removes_its_dead_letter(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    page = f"/jobs/{seeded.failed.id}"

    back = _post(http, page, f"{page}/actions", action="retry")

    assert _flash(http, back) == "ok: the job is queued to run again"
    assert _job(app, seeded.failed.id).status is JobStatus.PENDING
    assert app.dead_letters() == []


def test_replay_submits_a_copy_as_its_owner(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    page = f"/jobs/{seeded.completed.id}"

    back = _post(http, page, f"{page}/actions", action="replay")

    new_id = back.rsplit("/", 1)[-1]
    assert new_id != seeded.completed.id
    new = _job(app, new_id)
    assert (new.job_type, new.owner_id, new.params, new.status) == (
        "syncjobs.count",
        "alice",
        seeded.completed.params,
        JobStatus.PENDING,
    )
    assert f"replayed as {new_id}" in _flash(http, back)
    assert any(seeded.completed.id in line.message for line in app.repository.get_log(new_id))


def test_an_action_the_state_does_not_allow_is_an_error_flash(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    page = f"/jobs/{seeded.completed.id}"

    retried = _post(http, page, f"{page}/actions", action="retry")
    assert _flash(http, retried).startswith("error: only failed or cancelled jobs")
    cancelled = _post(http, page, f"{page}/actions", action="cancel")
    assert _flash(http, cancelled) == "error: the job already ended (completed)"
    assert _job(app, seeded.completed.id).status is JobStatus.COMPLETED


def test_unknown_actions_and_jobs_are_refused(http: TestClient, seeded: Seeded) -> None:
    token = csrf_of(http, "/schedules")
    unknown = http.post(
        f"/jobs/{seeded.pending.id}/actions", data={"csrf": token, "action": "explode"}
    )
    missing = http.post(
        "/jobs/00000000-0000-4000-8000-000000000000/actions",
        data={"csrf": token, "action": "cancel"},
    )

    assert unknown.status_code == 400 and "unknown action" in unknown.text
    assert missing.status_code == 404


def _failed_jobs(app: SyncJobs, count: int) -> list[str]:
    from .web_support import finish

    ids = []
    for i in range(count):
        job = app.submit("syncjobs.noop", owner_id=f"owner-{i}")
        finish(app, job, JobStatus.FAILED, error_code="fatal", error_message="no", dead_letter=True)
        ids.append(job.id)
    return ids


def test_replay_selected_dead_letters(app: SyncJobs, http: TestClient) -> None:
    ids = _failed_jobs(app, 3)

    back = _post(http, "/dead-letters", "/dead-letters", action="replay", job_id=ids[:2])

    assert back == "/dead-letters"
    assert _flash(http, back) == "ok: replayed 2 jobs"
    assert [_job(app, i).status for i in ids] == [
        JobStatus.PENDING,
        JobStatus.PENDING,
        JobStatus.FAILED,
    ]
    assert [d.job_id for d in app.dead_letters()] == [ids[2]]
    assert _job(app, ids[0]).owner_id == "owner-0"


def test_discard_selected_dead_letters_leaves_the_jobs_failed(
    app: SyncJobs, http: TestClient
) -> None:
    ids = _failed_jobs(app, 3)

    back = _post(http, "/dead-letters", "/dead-letters", action="discard", job_id=[ids[0], ids[2]])

    assert _flash(http, back) == "ok: discarded 2 dead letters"
    assert [d.job_id for d in app.dead_letters()] == [ids[1]]
    assert all(_job(app, i).status is JobStatus.FAILED for i in ids)


def test_replay_one_dead_letter(app: SyncJobs, http: TestClient) -> None:
    ids = _failed_jobs(app, 2)

    back = _post(http, "/dead-letters", f"/dead-letters/{ids[1]}", action="replay", job_id=ids[0])

    assert _flash(http, back) == "ok: replayed 1 job"
    assert _job(app, ids[1]).status is JobStatus.PENDING
    assert _job(app, ids[0]).status is JobStatus.FAILED


def test_dead_letter_actions_need_a_selection(app: SyncJobs, http: TestClient) -> None:
    _failed_jobs(app, 1)

    empty = _post(http, "/dead-letters", "/dead-letters", action="discard")
    assert _flash(http, empty) == "error: select at least one dead letter first"
    malformed = _post(http, "/dead-letters", "/dead-letters", action="discard", job_id="nope")
    assert "malformed job id 'nope'" in _flash(http, malformed)
    assert len(app.dead_letters()) == 1


def test_run_a_schedule_now(app: SyncJobs, http: TestClient) -> None:
    before = app.repository.list_jobs(job_type="maintain_jobs")

    back = _post(http, "/schedules", "/schedules/maintain_jobs", action="run")

    after = app.repository.list_jobs(job_type="maintain_jobs")
    assert back == "/schedules"
    assert len(after) == len(before) + 1
    assert after[0].owner_id == SYSTEM_OWNER and after[0].status is JobStatus.PENDING
    assert after[0].id in _flash(http, back)


def test_run_now_of_an_unknown_schedule_is_404(http: TestClient) -> None:
    done = http.post(
        "/schedules/syncjobs.noop", data={"csrf": csrf_of(http, "/schedules"), "action": "run"}
    )

    assert done.status_code == 404


@pytest.mark.parametrize(("action", "full"), [("sync", False), ("resync", True)])
def test_sync_an_account_now(
    app: SyncJobs, http: TestClient, seeded: Seeded, action: str, full: bool
) -> None:
    page = "/accounts?provider=youtube"

    back = _post(http, page, f"/accounts/{seeded.account_id}", action=action, next=page)

    assert back == page
    syncs = app.repository.list_jobs(job_type="sync_account")
    assert [(j.owner_id, j.params) for j in syncs] == [
        ("alice", {"account_id": seeded.account_id, "full": full})
    ]
    assert syncs[0].id in _flash(http, back)


def test_actions_never_redirect_off_the_dashboard(http: TestClient, seeded: Seeded) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil"):
        back = _post(
            http, "/accounts", f"/accounts/{seeded.account_id}", action="sync", next=target
        )
        assert back == "/accounts"


def test_sync_of_an_unknown_account_is_404(http: TestClient) -> None:
    done = http.post(
        "/accounts/no-such-account", data={"csrf": csrf_of(http, "/schedules"), "action": "sync"}
    )

    assert done.status_code == 404


def test_acting_across_owners_uses_each_jobs_own_owner(app: SyncJobs, http: TestClient) -> None:
    ids = _failed_jobs(app, 2)

    _post(http, "/dead-letters", "/dead-letters", action="replay", job_id=ids)

    jobs = app.repository.browse_jobs(JobQuery(status=JobStatus.PENDING))  # type: ignore[attr-defined]
    assert sorted(j.owner_id for j in jobs) == ["owner-0", "owner-1"]
