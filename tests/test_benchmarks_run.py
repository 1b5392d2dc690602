"""The benchmarks run (a few frames or seconds each), so they cannot rot unnoticed: each builds its
settings as the app does and prints its figures."""
from benchmarks import bench_effects, bench_stability, bench_video


def test_the_still_scene_benchmark_prints_both_trackers(data_root, capsys):
    bench_stability.main(["--data", data_root, "--frames", "6", "--clips", "2"])
    out = capsys.readouterr().out
    assert "plain (one threshold, no confirmation)" in out and "\ndefault " in out and "flicker" in out


def test_the_video_benchmark_times_the_graph_and_the_command(capsys):
    bench_video.main(["--runs", "2"])
    out = capsys.readouterr().out
    assert "bare graph" in out and "132 frames ->" in out


def test_the_effects_benchmark_prints_live_and_video_rates(capsys):
    bench_effects.main(["--seconds", "1", "--rounds", "1", "--effects", "blur"])
    out = capsys.readouterr().out
    assert "overlay" in out and "blur" in out and "vs overlay" in out


def test_the_sizes_benchmark_prints_the_live_window_and_the_video_command(capsys):
    from benchmarks import bench_sizes
    bench_sizes.main(["--live", "640x360", "--video", "320x180", "--seconds", "3"])
    out = capsys.readouterr().out
    assert "live window   640x360 this" in out and "latency median" in out
    assert "video command   320x180 this" in out and "peak memory" in out
