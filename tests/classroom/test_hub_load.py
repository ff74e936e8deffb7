"""A class of N students on a loopback JupyterHub (classroom/jupyterhub_config.py), all at once.

N = 8 here (``DLTK_LOAD_STUDENTS`` sets another); the measured report is written to
test-artifacts/classroom/ and printed. See tests/classroom/hubload.py for what a student does.
"""

from __future__ import annotations

import os

import pytest

from .hubload import ROOT, run_class, save

pytestmark = [pytest.mark.classroom, pytest.mark.timeout(1800)]

N = int(os.environ.get("DLTK_LOAD_STUDENTS", "8"))


@pytest.fixture(scope="module")
def report():
    rep = run_class(N, fast=True, planted=1)
    save(rep, ROOT / "test-artifacts" / "classroom" / f"load-{N}-fast.json")
    print("\n" + rep.table())
    return rep


def test_every_student_ran_their_lesson_without_an_error(report):
    assert len(report.results) == N
    failed = {r.name: r.errors for r in report.results if r.errors}
    assert not failed, f"{failed}\n\nhub log:\n{getattr(report, 'hub_log_tail', '')}"
    for r in report.results:
        assert r.cells > 5, f"{r.name} ran only {r.cells} cells of {r.lesson}"
        assert r.first_kernel_s > 0 and r.lesson_s > 0


def test_each_student_works_in_their_own_home(report):
    # run_class checks the marker file each kernel wrote and the kernel's working folder
    homes = {r.cwd.split("/dltk/lessons")[0] for r in report.results}
    assert len(homes) == N, f"students shared a home: {sorted(homes)}"


def test_a_recording_over_the_budget_gets_the_clear_error_and_the_class_goes_on(report):
    planted = [r for r in report.results if r.planted]
    assert len(planted) == 1
    assert planted[0].planted_error.startswith("RecordingBudgetError"), planted[0].planted_error
    assert "budget" in planted[0].planted_error
    assert all(r.alive_after for r in report.results), "a kernel died"


def test_the_hub_answered_throughout(report):
    assert report.hub_probes >= 10
    assert report.hub_failures == 0
    assert report.hub_max_latency_s < 10


def test_the_report_holds_the_measurements_the_sizing_guide_uses(report):
    assert report.hub_peak_mb > 0
    for r in report.results:
        assert r.peak_mb > 0 and r.kernel_peak_mb > 0 and r.cpu_s > 0, r
