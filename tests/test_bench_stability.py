"""The still-scene benchmark runs (a few frames of two clips) and prints both trackers' figures."""
from benchmarks.bench_stability import main


def test_the_still_scene_benchmark_prints_both_trackers(data_root, capsys):
    main(["--data", data_root, "--frames", "6", "--clips", "2"])
    out = capsys.readouterr().out
    assert "plain (one threshold, no confirmation)" in out and "\ndefault " in out and "flicker" in out
