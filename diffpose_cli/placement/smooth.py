"""Smooth motion: a two-sided Kalman (Rauch-Tung-Striebel) smoother on the lifted joints.

Each joint coordinate is a point moving with nearly constant velocity (white-noise acceleration of
spectral density q), observed once per frame with the noise the lifter reports for that joint and
frame (its calibrated std): frames where the lifter is unsure lean on their neighbours, frames where
it is sure keep their own pose. The filter runs forwards and then backwards over the whole clip, so
the result has no lag, and a constant-velocity model follows a fast swing without the overshoot of a
higher-order one. Each run of frames with a pose is smoothed on its own: nothing is carried across
a gap.

The reported std is not the filter's posterior: that assumes the lifter's errors are independent
from frame to frame, while most of them (depth, a misread limb) persist for many frames and no
smoothing removes them. The std is therefore smoothed like the motion, keeping its calibration.
"""

from __future__ import annotations

import numpy as np

from ..errors import DiffposeError

# process noise q (m^2/s^3) per named strength: the least acceleration the smoother believes in
# (each joint may ask for more, see joint_process_noise). Chosen on the held-out training subject
# S8 (benchmarks/bench_smoothness.py --tune), never on the test subjects or the real clips.
STRENGTHS = {"off": None, "light": 0.5, "default": 0.05, "strong": 0.01}
DEFAULT_STRENGTH = "default"
START_SPEED_STD = 2.0  # m/s: the prior on a run's first velocity


def process_noise(strength) -> float | None:
    """A strength name from STRENGTHS or a positive number (q itself) -> q, or None for off.
    None asks for the default strength."""
    if strength is None:
        strength = DEFAULT_STRENGTH
    if isinstance(strength, str) and strength in STRENGTHS:
        return STRENGTHS[strength]
    try:
        q = float(strength)
    except (TypeError, ValueError):
        raise DiffposeError(f"--smooth must be one of {', '.join(STRENGTHS)} or a positive number "
                            f"(the process noise in m^2/s^3), got {strength!r}") from None
    if not np.isfinite(q) or q <= 0:
        raise DiffposeError(f"--smooth as a number must be positive and finite, got {strength!r}")
    return q


def rts_smooth(z: np.ndarray, r: np.ndarray, q, dt: float) -> np.ndarray:
    """Constant-velocity RTS smoother over the first axis.

    z (T, D) observations, r (T, D) their variances, q the acceleration noise density (one value,
    or one per column), dt the frame interval (s). Returns the smoothed positions (T, D). Every
    value must be finite.
    """
    T, D = z.shape
    if T < 2:
        return z.copy()
    F = np.array([[1.0, dt], [0.0, 1.0]])
    Q = np.asarray(q, np.float64).reshape(-1, 1, 1) * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    x_f = np.empty((T, D, 2))   # filtered state (position, velocity)
    P_f = np.empty((T, D, 2, 2))
    x_p = np.empty((T, D, 2))   # predicted state
    P_p = np.empty((T, D, 2, 2))
    x = np.stack([z[0], np.zeros(D)], -1).astype(np.float64)
    P = np.zeros((D, 2, 2))
    P[:, 0, 0] = r[0]
    P[:, 1, 1] = START_SPEED_STD**2
    for t in range(T):
        if t > 0:
            x = x @ F.T
            P = F @ P @ F.T + Q
        x_p[t], P_p[t] = x, P
        s = P[:, 0, 0] + r[t]
        k = P[:, :, 0] / s[:, None]                          # Kalman gain (D, 2)
        x = x + k * (z[t] - x[:, 0])[:, None]
        P = P - k[:, :, None] * P[:, None, 0, :]
        x_f[t], P_f[t] = x, P
    xs = x_f[-1].copy()
    out = np.empty((T, D))
    out[-1] = xs[:, 0]
    for t in range(T - 2, -1, -1):
        Pn = P_p[t + 1]
        det = Pn[:, 0, 0] * Pn[:, 1, 1] - Pn[:, 0, 1] * Pn[:, 1, 0]
        inv = np.stack([np.stack([Pn[:, 1, 1], -Pn[:, 0, 1]], -1),
                        np.stack([-Pn[:, 1, 0], Pn[:, 0, 0]], -1)], -2) / det[:, None, None]
        C = P_f[t] @ F.T @ inv                               # smoother gain (D, 2, 2)
        xs = x_f[t] + (C @ (xs - x_p[t + 1])[..., None])[..., 0]
        out[t] = xs[:, 0]
    return out


def log_likelihood(z: np.ndarray, r: np.ndarray, q: np.ndarray, dt: float) -> np.ndarray:
    """Per column, the log-likelihood of observations z (T, D) under the constant-velocity model
    with variances r (T, D) and acceleration noise q (D,): the forward filter's innovations."""
    T, D = z.shape
    F = np.array([[1.0, dt], [0.0, 1.0]])
    Q = q.reshape(-1, 1, 1) * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    x = np.stack([z[0], np.zeros(D)], -1)
    P = np.zeros((D, 2, 2))
    P[:, 0, 0] = r[0]
    P[:, 1, 1] = START_SPEED_STD**2
    total = np.zeros(D)
    for t in range(1, T):
        x = x @ F.T
        P = F @ P @ F.T + Q
        s = P[:, 0, 0] + r[t]
        v = z[t] - x[:, 0]
        total -= 0.5 * (np.log(2 * np.pi * s) + v * v / s)
        k = P[:, :, 0] / s[:, None]
        x = x + k * v[:, None]
        P = P - k[:, :, None] * P[:, None, 0, :]
    return total


# how far above the chosen strength the data may push a joint's process noise (factors of 4)
ADAPT_STEPS = 8


def joint_process_noise(z: np.ndarray, r: np.ndarray, q_min: float, dt: float, group: int = 3) -> np.ndarray:
    """Per column of z (T, D), the process noise that best explains its joint's motion.

    One value fits every motion badly: standing legs want a stiff model, a runner's swinging
    shins a loose one, else their swing is flattened. Each joint (`group` columns) gets the q
    among q_min * 4^k (k < ADAPT_STEPS) under which its observations are most likely (the filter's
    innovations); q_min, the chosen strength, is the smoothest any joint is made.
    """
    grid = q_min * 4.0 ** np.arange(ADAPT_STEPS)
    G, D = len(grid), z.shape[1]
    ll = log_likelihood(np.tile(z, (1, G)), np.tile(r, (1, G)), np.repeat(grid, D), dt)
    per_joint = ll.reshape(G, D // group, group).sum(-1)          # (G, joints)
    return np.repeat(grid[per_joint.argmax(0)], group)


def runs_of(valid: np.ndarray) -> list[np.ndarray]:
    """Frame indices of each run of consecutive valid frames."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)


def smooth_motion(joints: np.ndarray, std: np.ndarray, fps: float, valid: np.ndarray | None = None,
                  strength=DEFAULT_STRENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Smooth a clip's pelvis-relative joints (F, J, 3) metres with their std (F, J) metres.

    `valid` (F,) marks frames with a pose (default: every frame whose joints are all finite);
    the others are returned unchanged. Returns new (joints, std) arrays.
    """
    joints = np.asarray(joints, np.float32)
    std = np.asarray(std, np.float32)
    if joints.ndim != 3 or joints.shape[-1] != 3 or std.shape != joints.shape[:2]:
        raise DiffposeError(f"smoothing needs joints (F, J, 3) and std (F, J), got "
                            f"{joints.shape} and {std.shape}")
    if not np.isfinite(fps) or fps <= 0:
        raise DiffposeError(f"smoothing needs a positive frame rate, got {fps}")
    if valid is None:
        valid = np.isfinite(joints).all((-1, -2)) & np.isfinite(std).all(-1)
    valid = np.asarray(valid, bool)
    if not (np.isfinite(joints[valid]).all() and np.isfinite(std[valid]).all()):
        raise DiffposeError("cannot smooth: a frame marked as having a pose holds NaN or inf")
    q = process_noise(strength)
    out_joints, out_std = joints.copy(), std.copy()
    if q is None:
        return out_joints, out_std
    F, J, _ = joints.shape
    dt = 1.0 / fps
    for run in runs_of(valid):
        if len(run) < 2:
            continue
        z = joints[run].reshape(len(run), J * 3).astype(np.float64)
        var = observation_noise(z, np.repeat(std[run].astype(np.float64), 3, axis=1))
        q_cols = joint_process_noise(z, var, q, dt)
        out_joints[run] = rts_smooth(z, var, q_cols, dt).reshape(len(run), J, 3)
        s = std[run].astype(np.float64)
        out_std[run] = np.maximum(rts_smooth(s, observation_noise(s, s), q_cols[::3], dt), 0.0)
    return out_joints, out_std


def observation_noise(z: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Per-frame variance (T, D) of the frame-to-frame noise in observations z (T, D).

    The lifter's std is the size of its whole error, most of which persists over many frames and
    is no noise to a smoother; taken as the noise, it would flatten real fast motion. So the noise
    level of each coordinate is measured on the run itself, from its third differences (white
    noise of std s gives third differences of std sqrt(20) s, while smooth motion contributes
    little), robustly (median absolute deviation), and the lifter's std only says which frames are
    noisier than others: variance = level^2 * (std / its median)^2.
    """
    if len(z) >= 8:
        d3 = np.diff(z, 3, axis=0)
        level = 1.4826 * np.median(np.abs(d3 - np.median(d3, 0)), 0) / np.sqrt(20.0)
    else:  # too short to measure: the lifter's std, whole
        level = np.median(std, 0)
    relative = std / np.maximum(np.median(std, 0), 1e-6)
    return np.maximum(level * relative, 1e-4) ** 2
