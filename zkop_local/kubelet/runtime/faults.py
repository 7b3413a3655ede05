"""Fault injection on volumes (process faults are `PodRuntime.kill_processes/freeze/thaw/lose_node`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def wipe_directory(path: Path | str) -> int:
    """Delete everything inside a volume directory (e.g. a PVC's) but keep the directory itself: a running
    container's bind mount pins the directory's inode, so it sees an empty volume, as after losing a disk.
    Returns the number of top-level entries removed."""
    root = Path(path)
    removed = 0
    for entry in list(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            if os.path.ismount(entry):
                raise OSError(f"refusing to wipe {root}: {entry} is a mount point")
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed += 1
    return removed
