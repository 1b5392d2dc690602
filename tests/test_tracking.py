"""The tracker on synthetic detections (what it must do: no blinking, no one-frame ghosts, one
track per object) and on the bundled clip (the bunny keeps one id)."""
import numpy as np
import pytest

from app.results import Result
from app.tracking import PLAIN, Tracker, TrackerSettings
from app.sources import VideoReader
from conftest import SAMPLE

FRAME = np.zeros((80, 80, 3), np.uint8)
SHOW = 0.5


def det(*boxes, scores=None):
    """Result with one detection per box; each mask fills its box on the 10x10 map (stride 8)."""
    maps = np.zeros((len(boxes), 10, 10), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        maps[k, y1 // 8:(y2 + 7) // 8, x1 // 8:(x2 + 7) // 8] = 1
    scores = np.linspace(0.8, 0.6, len(boxes)) if scores is None else scores
    return Result(FRAME, np.array(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32), maps)


def shown(tracker, result):
    return tracker.update(result, SHOW).ids.tolist()


OBJECT, OTHER = (8, 8, 40, 40), (48, 48, 80, 80)


def test_a_detection_on_one_frame_only_is_never_shown():
    t = Tracker()
    assert shown(t, det(OBJECT, scores=[0.7])) == []
    assert shown(t, det()) == []
    assert shown(t, det()) == []


def test_a_new_object_shows_from_its_second_consecutive_frame_or_at_once_when_sure():
    t = Tracker(confirm_frames=2, instant_score=0.9)
    assert shown(t, det(OBJECT, scores=[0.7])) == []
    assert shown(t, det(OBJECT, scores=[0.7])) == [1]
    assert shown(t, det(OBJECT, OTHER, scores=[0.7, 0.95])) == [2, 1]  # sure: no wait


def test_a_new_object_must_be_seen_on_consecutive_frames():
    t = Tracker(confirm_frames=2, instant_score=1.0)
    for _ in range(4):  # seen every other frame: a flickering false detection
        assert shown(t, det(OBJECT, scores=[0.7])) == []
        assert shown(t, det()) == []


def test_a_missed_track_keeps_showing_its_last_mask_then_hides():
    t = Tracker(confirm_frames=1, persist_frames=2, smoothing=False)
    for _ in range(4):
        last = t.update(det(OBJECT), SHOW)
    for _ in range(2):
        held = t.update(det(), SHOW)
        assert held.ids.tolist() == [1]
        assert np.array_equal(held.maps, last.maps) and np.array_equal(held.boxes, last.boxes)
    assert shown(t, det()) == []
    assert shown(t, det(OBJECT)) == [1]  # still known: the same id when it comes back


def test_a_single_missed_frame_never_blinks_but_doubtful_or_brief_instances_are_not_held_longer():
    t = Tracker(confirm_frames=1, persist_frames=5, persist_score=0.6)
    assert shown(t, det(OBJECT, OTHER, scores=[0.9, 0.55])) == [1, 2]   # shown one frame each
    assert shown(t, det()) == [1, 2]                                    # one miss: both held
    assert shown(t, det()) == []                                        # brief and doubtful: gone


def test_a_weak_detection_continues_a_shown_track_but_never_starts_one():
    t = Tracker(confirm_frames=1, persist_frames=0, low_threshold=0.2)
    assert shown(t, det(OBJECT, scores=[0.3])) == []       # weak: starts nothing
    assert shown(t, det(OBJECT, scores=[0.8])) == [1]
    r = t.update(det(OBJECT, scores=[0.3]), SHOW)          # weak: continues the shown track
    assert r.ids.tolist() == [1] and np.isclose(r.scores[0], 0.3)
    assert shown(t, det(OTHER, scores=[0.3])) == []        # weak and elsewhere: nothing


def test_the_graph_is_asked_for_the_weaker_detections_never_above_the_shown_threshold():
    t = Tracker(low_threshold=0.3)
    assert t.detect_threshold(0.5) == 0.3
    assert t.detect_threshold(0.2) == 0.2


def test_a_shown_instance_that_stays_inside_a_larger_one_is_merged_into_it():
    t = Tracker(confirm_frames=1, merge_frames=3, merge_inside=0.8, persist_frames=0)
    part = (16, 16, 32, 32)
    assert shown(t, det(part, scores=[0.8])) == [1]
    assert shown(t, det(OBJECT, part, scores=[0.9, 0.8])) == [2, 1]
    assert shown(t, det(OBJECT, part, scores=[0.9, 0.8])) == [2, 1]
    assert shown(t, det(OBJECT, part, scores=[0.9, 0.8])) == [2]  # third frame inside: merged
    for _ in range(3):  # and the part does not come back as a new instance
        assert shown(t, det(OBJECT, part, scores=[0.9, 0.8])) == [2]


def test_a_merged_part_that_leaves_its_whole_is_shown_again_with_its_id():
    t = Tracker(confirm_frames=1, merge_frames=2, smoothing=False, persist_frames=0)
    part = (16, 16, 32, 32)
    shown(t, det(part, scores=[0.8]))
    for _ in range(3):
        shown(t, det(OBJECT, part, scores=[0.9, 0.8]))
    assert shown(t, det(OBJECT, part, scores=[0.9, 0.8])) == [2]
    away = [(24, 16, 40, 32), (32, 16, 48, 32), (40, 16, 56, 32), (48, 16, 64, 32), (56, 16, 72, 32)]  # walks out
    assert [shown(t, det(OBJECT, box, scores=[0.9, 0.8])) for box in away] == [[2], [2], [2], [2, 1], [2, 1]]


def test_a_part_that_appears_with_its_whole_is_never_shown():
    t = Tracker(confirm_frames=1, merge_frames=3)
    for _ in range(4):
        assert shown(t, det(OBJECT, (16, 16, 32, 32))) == [1]


def test_an_object_inside_a_larger_false_region_that_scores_higher_stays():
    t = Tracker(confirm_frames=1, merge_frames=2)
    for _ in range(4):
        assert shown(t, det((0, 0, 80, 80), OBJECT, scores=[0.7, 0.99])) == [2, 1]


def test_a_new_part_inside_a_shown_object_starts_nothing():
    t = Tracker(confirm_frames=1, merge_frames=3)
    assert shown(t, det(OBJECT)) == [1]
    assert shown(t, det(OBJECT, (16, 16, 32, 32))) == [1]


def test_two_objects_side_by_side_are_not_merged():
    t = Tracker(confirm_frames=1)
    for _ in range(5):
        assert shown(t, det((0, 8, 40, 40), (40, 8, 80, 40))) == [1, 2]


def test_an_object_keeps_its_id_while_it_moves_and_when_missed_a_few_frames():
    t = Tracker(smoothing=False, confirm_frames=1)
    assert shown(t, det((8, 8, 40, 40))) == [1]
    assert shown(t, det((16, 8, 48, 40))) == [1]
    for _ in range(3):
        t.update(det(), SHOW)
    assert shown(t, det((16, 16, 48, 48))) == [1]


def test_new_objects_get_new_ids_and_lost_ones_are_forgotten():
    t = Tracker(smoothing=False, confirm_frames=1, forget_frames=2, persist_frames=0)
    assert shown(t, det((0, 0, 24, 24), OTHER)) == [1, 2]
    for _ in range(3):
        t.update(det(), SHOW)
    assert shown(t, det((0, 0, 24, 24))) == [3]


def test_a_lingering_track_cannot_steal_the_object_from_its_current_track():
    t = Tracker(smoothing=False, confirm_frames=1, persist_frames=0, merge_frames=0)
    # frame 1: the object (id 1) and a spurious big box around it (id 2)
    assert shown(t, det((16, 16, 48, 48), (0, 0, 72, 72))) == [1, 2]
    # frame 2: only the object; the big box is lost
    assert shown(t, det((16, 16, 48, 48))) == [1]
    # frame 3: the object grows towards the big box's shape: it overlaps the lost track more,
    # but its current track (seen in the last frame) keeps it
    assert shown(t, det((8, 8, 64, 64))) == [1]


def test_smoothing_averages_the_map_of_a_matched_track():
    t = Tracker(smoothing=True, new_weight=0.6, confirm_frames=1)
    t.update(det((8, 8, 40, 40)), SHOW)
    r = t.update(det((16, 8, 48, 40)), SHOW)
    assert np.isclose(r.maps[0].max(), 1.0) and np.isclose(r.maps[0][1, 1], 0.4)


def test_the_plain_settings_show_every_detection_at_once_and_nothing_missed():
    t = Tracker(PLAIN)
    assert shown(t, det(OBJECT, scores=[0.6])) == [1]
    assert shown(t, det()) == []


def test_settings_out_of_range_are_refused_by_name():
    with pytest.raises(ValueError, match="confirm_frames"):
        Tracker(confirm_frames=0)
    with pytest.raises(ValueError, match="low_threshold"):
        TrackerSettings(low_threshold=1.5).check()


def test_the_bunny_keeps_one_id_on_the_bundled_clip(engine_cpu):
    tracker = Tracker()
    main_ids = []
    for f in VideoReader(SAMPLE):
        if f.index > 28:
            break
        r = tracker.update(engine_cpu.run(f.image, tracker.detect_threshold(SHOW)), SHOW)
        if f.index >= 16 and len(r):
            main_ids.append(int(r.ids[int(np.argmax(r.scores))]))  # the best-scoring instance is the bunny
    assert len(main_ids) >= 12 and len(set(main_ids)) == 1, main_ids


def test_the_command_line_sets_the_tracker_and_refuses_bad_values(capsys):
    from app.cli import build_parser, effect_arg
    from app.settings import Settings
    p = build_parser()

    def tracking(argv):
        args = p.parse_args(argv)
        args.effect = effect_arg(p, args.effect)
        return Settings.from_args(args).tracking
    s = tracking(["--track-threshold", "0.2", "--confirm-frames", "3", "--persist-frames", "0", "--no-merge",
                  "--no-smoothing"])
    assert (s.low_threshold, s.confirm_frames, s.persist_frames, s.merge_frames, s.smoothing) == (0.2, 3, 0, 0, False)
    assert tracking([]) == TrackerSettings()
    with pytest.raises(SystemExit):
        p.parse_args(["--confirm-frames", "0"])
    assert "--confirm-frames" in capsys.readouterr().err


def test_the_api_takes_tracker_settings_and_names_a_bad_one():
    from app.api import Segmenter
    from app.engine import EngineError
    seg = Segmenter(device="cpu", tracking=TrackerSettings(confirm_frames=3), smoothing=False)
    assert seg.settings.tracking == TrackerSettings(confirm_frames=3, smoothing=False)
    with pytest.raises(EngineError, match="persist_frames"):
        Segmenter(device="cpu", tracking=TrackerSettings(persist_frames=-1))


def test_the_pipeline_holds_a_still_objects_edges_against_sensor_noise(engine_cpu, data_root, tmp_path):
    import os

    from app.pipeline import Pipeline
    from app.settings import Settings
    from benchmarks.bench_stability import foreground, still_clip
    clip = still_clip(os.path.join(data_root, "human-seg", "images", "1.jpg"), str(tmp_path / "still.mp4"), 12,
                      np.random.default_rng(0))
    flicker = {}
    for hold in (False, True):
        pipe, prev, changes = Pipeline(engine_cpu, Settings(tracking=TrackerSettings(hold_edges=hold)), draw_now=False), None, []
        for f in VideoReader(clip):
            fg = foreground(pipe.process(f.image).result)
            if prev is not None:
                changes.append(1 - (fg & prev).sum() / max((fg | prev).sum(), 1))
            prev = fg
        flicker[hold] = float(np.mean(changes))
    assert flicker[True] < flicker[False] / 3 and flicker[True] < 0.01, flicker
