"""The UI benchmark (studio bench --ui) runs end to end on the shipped models: figures, no asserts on time."""

from __future__ import annotations

from studio.bench import format_ui
from ui import bench


def test_ui_bench_measures_open_scroll_and_heartbeats(qtbot) -> None:
    result = bench.run(nodes=300)
    opened = result["project_open"]
    assert opened["nodes"] == 300 and opened["open_to_history_shown_s"] > opened["store_open_s"] > 0
    assert result["history_scroll"]["pages"] >= 2
    assert set(result["ui_heartbeat_largest_gap"]) == {
        "generating_batch8_ms",
        "painting_live_ms",
        "live_sound_ms",
    }
    assert all(v > 0 for v in result["ui_heartbeat_largest_gap"].values())
    text = format_ui(result)
    assert "300-node project" in text and "live sound" in text
