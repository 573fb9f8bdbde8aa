"""Call quality without a server: the running summary, the live window's bounds, the charts
and the console's defensive reading of the relay's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web.admin.charts import line_chart
from web.admin.views import relay_workers
from web.quality.sample import Sample
from web.quality.window import QualityWindows

T0 = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def sample(seconds: float, **values: object) -> Sample:
    return Sample(at=T0 + timedelta(seconds=seconds), **values)  # type: ignore[arg-type]


def test_the_summary_keeps_averages_extremes_and_every_path() -> None:
    windows = QualityWindows(timedelta(minutes=30), "node-a:8080", max_samples=10)
    assert windows.add("s1", "ana@x.org", "conn-one", sample(0, path="direct", rtt_ms=20))
    assert not windows.add("s1", "ana@x.org", "conn-one", sample(5, path="relay", rtt_ms=40))
    windows.add("s1", "ana@x.org", "conn-two", sample(10, path="relay", fps=5, loss_pct=1))
    summary = windows.sessions["s1"].participants["ana@x.org"].summary.freeze()
    assert summary.reports == 3
    assert summary.paths == ("direct", "relay")
    assert summary.path == "relay"
    assert (summary.rtt_ms_avg, summary.rtt_ms_max) == (30.0, 40)
    assert summary.fps_min == 5
    assert summary.poor_reports == 1
    assert summary.node == "node-a:8080"
    assert summary.last_at == T0 + timedelta(seconds=10)


def test_the_window_is_bounded_by_time_and_count_and_forgets_idle_sessions() -> None:
    windows = QualityWindows(timedelta(seconds=60), "n", max_samples=5)
    for second in range(0, 200, 5):
        windows.add("s1", "ana@x.org", "c1234567", sample(second, path="direct"))
    kept = windows.sessions["s1"].participants["ana@x.org"].samples
    assert len(kept) == 5
    assert kept[0].at >= T0 + timedelta(seconds=195 - 60)
    end = T0 + timedelta(seconds=195)
    assert [s.session_id for s in windows.live(end, timedelta(seconds=20))] == ["s1"]
    assert windows.live(end + timedelta(seconds=30), timedelta(seconds=20)) == []
    windows.forget_idle(end + timedelta(minutes=10), timedelta(minutes=5))
    assert "s1" in windows.sessions  # unsaved changes keep it
    windows.sessions["s1"].participants["ana@x.org"].dirty = False
    windows.forget_idle(end + timedelta(minutes=10), timedelta(minutes=5))
    assert windows.sessions == {}


def test_charts_say_what_they_draw_and_escape_labels() -> None:
    series = {
        "<b>ana</b>": [sample(0, path="direct", bitrate_in_kbps=300.0), sample(5, path="direct")],
        "ben": [sample(0, path="direct", bitrate_in_kbps=512.5)],
    }
    svg = str(line_chart("bitrate_in", series))
    assert 'data-metric="bitrate_in"' in svg
    assert 'data-max="512.5"' in svg
    assert 'data-points="2"' in svg
    assert "<b>" not in svg and "&lt;b&gt;ana&lt;/b&gt;" in svg
    empty = str(line_chart("rtt", {}))
    assert 'data-max="0"' in empty and "no reports yet" in empty


def test_relayrelay_workers_are_read_whatever_shape_they_come_in() -> None:
    assert relay_workers({}) == []
    assert relay_workers({"workers": "not a list"}) == []
    listed = relay_workers({"workers": [{"pid": 41, "streams": 4, "cpu": 0.5, "ok": True}, "junk"]})
    assert listed == [{"worker": "41", "pid": 41.0, "streams": 4.0, "cpu": 0.5}]
    named = relay_workers({"workers": {"w1": {"streams": 2}}})
    assert named == [{"worker": "w1", "streams": 2.0}]
