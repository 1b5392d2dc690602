"""The tracker on synthetic detections (what it must do) and on the bundled clip (the bunny keeps
its id through frames 16-28, where the first tracker gave it a new one)."""
import numpy as np

from app.results import Result
from app.tracking import Tracker
from app.video_io import VideoReader
from conftest import SAMPLE

FRAME = np.zeros((80, 80, 3), np.uint8)


def det(*boxes):
    """Result with one detection per box; each mask fills its box on the 10x10 map (stride 8)."""
    maps = np.zeros((len(boxes), 10, 10), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        maps[k, y1 // 8:(y2 + 7) // 8, x1 // 8:(x2 + 7) // 8] = 1
    return Result(FRAME, np.array(boxes, np.float32).reshape(-1, 4), np.linspace(1, 0.6, len(boxes), dtype=np.float32),
                  maps)


def test_an_object_keeps_its_id_while_it_moves_and_when_missed_a_few_frames():
    t = Tracker(smoothing=False)
    first = t.update(det((8, 8, 40, 40)))
    assert first.ids.tolist() == [1]
    assert t.update(det((16, 8, 48, 40))).ids.tolist() == [1]
    for _ in range(3):
        assert len(t.update(det())) == 0
    assert t.update(det((16, 16, 48, 48))).ids.tolist() == [1]


def test_new_objects_get_new_ids_and_lost_ones_are_forgotten():
    t = Tracker(smoothing=False, max_missing=2)
    assert t.update(det((0, 0, 24, 24), (48, 48, 80, 80))).ids.tolist() == [1, 2]
    for _ in range(3):
        t.update(det())
    assert t.update(det((0, 0, 24, 24))).ids.tolist() == [3]


def test_a_lingering_track_cannot_steal_the_object_from_its_current_track():
    t = Tracker(smoothing=False)
    # frame 1: the object (id 1) and a spurious big box around it (id 2)
    assert t.update(det((16, 16, 48, 48), (0, 0, 72, 72))).ids.tolist() == [1, 2]
    # frame 2: only the object; the big box is lost
    assert t.update(det((16, 16, 48, 48))).ids.tolist() == [1]
    # frame 3: the object grows towards the big box's shape: it overlaps the lost track more,
    # but its current track (seen in the last frame) keeps it
    assert t.update(det((8, 8, 64, 64))).ids.tolist() == [1]


def test_smoothing_averages_the_map_of_a_matched_track():
    t = Tracker(smoothing=True, new_weight=0.6)
    t.update(det((8, 8, 40, 40)))
    r = t.update(det((16, 8, 48, 40)))
    assert np.isclose(r.maps[0].max(), 1.0) and np.isclose(r.maps[0][1, 1], 0.4)


def test_the_bunny_keeps_its_id_on_the_bundled_clip(engine_cpu):
    tracker = Tracker()
    main_ids = []
    for f in VideoReader(SAMPLE):
        if f.index > 28:
            break
        r = tracker.update(engine_cpu.run(f.image))
        if f.index >= 16 and len(r):
            main_ids.append(int(r.ids[int(np.argmax(r.scores))]))  # the best-scoring instance is the bunny
    assert len(main_ids) >= 12 and len(set(main_ids)) == 1, main_ids
