"""Array exports: .npz for notebooks, .csv for spreadsheets and biomechanics tools.

Both keep one entry per video frame; frames without a person are NaN in the .npz and empty cells in
the .csv (never a made-up pose). docs/exports.md lists the keys and columns.
"""

import csv

import numpy as np

from ..placement.feet import foot_contacts
from ..files import atomic_output

CSV_CHUNK = 1024   # frames converted at a time by write_csv


def npz_arrays(result) -> dict:
    """The arrays `write_npz` stores, by key (see docs/exports.md)."""
    joints_world = np.asarray(result.joints_world, dtype=np.float32)
    return {
        "joints_world": joints_world,                                        # (F, 17, 3) m, Y up
        "joints_camera": np.asarray(result.joints_camera, dtype=np.float32),  # (F, 17, 3) m
        "uncertainty": np.asarray(result.uncertainty, dtype=np.float32),      # (F, 17) m
        "keypoints_2d": np.asarray(result.keypoints_2d, dtype=np.float32),    # (F, 17, 2) px
        "scores_2d": np.asarray(result.scores_2d, dtype=np.float32),          # (F, 17)
        "root_world": joints_world[:, 0].copy(),                              # (F, 3) pelvis, m
        "root_camera": np.asarray(result.root_camera, dtype=np.float32),      # (F, 3) m
        "times": np.asarray(result.times, dtype=np.float64),                  # (F,) s
        "detected": np.asarray(result.detected, dtype=bool),                  # (F,)
        "interpolated": np.asarray(result.interpolated, dtype=bool),          # (F,)
        "fps": np.float64(result.video["fps"]),
        "joint_names": np.array(result.joint_names),
        "parents": np.array(result.parents, dtype=np.int64),
        "world_from_camera": np.asarray(result.camera["world_from_camera"], dtype=np.float64),
        "camera_pose": result.world_from_camera_at(),                        # (F, 4, 4) camera t -> world
        "foot_contact": foot_contacts(joints_world, float(result.video["fps"])),  # (F, 2) left, right
    }


def write_npz(result, path) -> None:
    """Write the arrays to a compressed .npz (np.load(path) gives a dict-like of plain arrays)."""
    with atomic_output(path) as tmp:
        # a file object, so that NumPy does not append ".npz" to the temporary name
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **npz_arrays(result))


def csv_header(joint_names) -> list[str]:
    columns = ["frame", "time_s", "detected", "interpolated"]
    columns += [f"{name}_{axis}" for name in joint_names for axis in "xyz"]
    columns += [f"{name}_uncertainty" for name in joint_names]
    columns += ["left_foot_contact", "right_foot_contact"]
    return columns


def write_csv(result, path) -> None:
    """One row per video frame: frame, time, flags, then x y z of each joint (world metres, Y up)
    and each joint's uncertainty (metres). Empty cells where there is no person.
    Written CSV_CHUNK frames at a time (no whole-clip table of float64 values or strings)."""
    F = int(np.asarray(result.times).shape[0])
    contacts = foot_contacts(result.joints_world, float(result.video["fps"]))
    present = np.asarray(result.detected) | np.asarray(result.interpolated)
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(csv_header(result.joint_names))
            for lo in range(0, F, CSV_CHUNK):
                hi = min(F, lo + CSV_CHUNK)
                joints = np.asarray(result.joints_world[lo:hi], dtype=np.float64)
                uncertainty = np.asarray(result.uncertainty[lo:hi], dtype=np.float64)
                values = np.concatenate([joints.reshape(joints.shape[0], -1), uncertainty], axis=1)
                for i, row in enumerate(values, start=lo):
                    cells = ["" if not np.isfinite(v) else f"{v:.5f}" for v in row]
                    flags = [int(c) for c in contacts[i]] if present[i] else ["", ""]
                    writer.writerow([i, f"{result.times[i]:.5f}", int(result.detected[i]),
                                     int(result.interpolated[i])] + cells + flags)
