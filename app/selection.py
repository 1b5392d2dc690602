"""Keeping only some instances: by track id (a click in the live window, `--keep-ids`) and/or the N
largest (`--keep-largest`). Ids are the tracker's, so a choice follows its object across frames."""
from dataclasses import dataclass

import numpy as np

from .results import Result
from .tracking import binary_maps


@dataclass
class Selection:
    ids: frozenset = frozenset()   # keep only these track ids (empty: any id)
    largest: int = 0               # then keep the N largest by mask area (0: no limit)

    def active(self):
        return bool(self.ids or self.largest)

    def apply(self, result: Result) -> Result:
        """The result with only the chosen instances."""
        if not self.active():
            return result
        keep = np.ones(len(result), bool)
        if self.ids:
            keep &= np.isin(result.track_ids(), list(self.ids))
        if self.largest and keep.sum() > self.largest:
            area = binary_maps(result.boxes, result.maps, result.frame_size).sum(1).astype(float)
            area[~keep] = -1
            keep = np.zeros(len(result), bool)
            keep[np.argsort(-area, kind="stable")[:self.largest]] = True
        return result.select(keep)

    def toggled(self, track_id, add):
        """The selection after a click on track_id (add: Ctrl held, toggles it among the chosen)."""
        if not add:
            return Selection(frozenset({track_id}), self.largest)
        ids = set(self.ids) ^ {track_id}
        return Selection(frozenset(ids), self.largest)

    def describe(self):
        parts = []
        if self.ids:
            parts.append("keeping " + ", ".join(f"#{i}" for i in sorted(self.ids)))
        if self.largest:
            parts.append(f"largest {self.largest}")
        return "; ".join(parts)
