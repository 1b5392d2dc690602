"""The one frame loop: any source of Frames in (app/sources.py), one Shown per frame out
(app/pipeline.py), for the video command, still images, the live session and the API alike. Each
result's timings start with 'decode' (reading the frame).
`prefetch` decodes ahead in a thread, so decoding overlaps inference (frame order is kept)."""
import dataclasses
import queue
import threading
import time

from .pipeline import Pipeline


def results(frames, pipeline: Pipeline):
    """Yields one Shown per Frame, in order; timings: decode, preprocess, inference, postprocess, draw."""
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(it, None)
        if frame is None:
            return
        decode = frame.decode_ms if frame.decode_ms is not None else (time.perf_counter() - t0) * 1000
        shown = pipeline.process(frame.image, index=frame.index, time=frame.time, captured_at=frame.captured_at,
                                 name=frame.name)
        timings = dict(shown.result.timings)
        shown.result.timings.clear()
        shown.result.timings.update(decode=decode, **timings)  # one dict, shared with shown.whole
        yield shown


QUEUE_BYTES = 32 * 2 ** 20  # what each queue of frames may hold: 4 frames of 1080p, one of 4K


def queue_depth(frame_size, most=4):
    """How many frames of frame_size (h, w) a queue holds: memory is bounded by QUEUE_BYTES, not by
    the frame size (at least one)."""
    return max(1, min(most, QUEUE_BYTES // (frame_size[0] * frame_size[1] * 3)))


def prefetch(frames, depth=4):
    """The same Frames, read ahead by a background thread into a bounded queue; each Frame's
    decode_ms is measured there. Stops reading when the consumer stops (break, Ctrl-C).
    The reader takes a free slot before it decodes, so at most `depth` frames are decoded and not
    yet taken (not depth + 1, one waiting in the reader's hands: 25 MB more at 4K)."""
    q = queue.Queue()
    slots = threading.Semaphore(depth)
    stop = threading.Event()
    end = object()

    def produce():
        it = iter(frames)
        try:
            while not stop.is_set():
                if not slots.acquire(timeout=0.1):
                    continue
                t0 = time.perf_counter()
                f = next(it, end)
                if f is not end and f.decode_ms is None:
                    f = dataclasses.replace(f, decode_ms=(time.perf_counter() - t0) * 1000)
                q.put(f)
                if f is end:
                    return
        except BaseException as e:  # handed to the consumer
            q.put(e)

    thread = threading.Thread(target=produce, daemon=True, name="decode")
    thread.start()
    try:
        while True:
            f = q.get()
            slots.release()
            if f is end:
                return
            if isinstance(f, BaseException):
                raise f
            yield f
    finally:
        stop.set()
        thread.join(5)
