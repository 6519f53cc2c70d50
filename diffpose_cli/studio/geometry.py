"""Ray casting of the mannequin's primitives (spheres, round cones, ellipsoids), and the small
vector helpers the body is built with. Rays leave the camera centre (the camera frame's origin)."""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------------------------------------------
# ray casting of the primitives; rays leave the camera centre (the origin of the camera frame)

def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def sphere_hits(rays: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Entry distance along unit rays from the origin to a sphere; inf where the ray misses."""
    along = rays @ centre
    disc = along * along - (centre @ centre - radius * radius)
    t = along - np.sqrt(np.maximum(disc, 0.0))
    return np.where((disc >= 0.0) & (t > 0.0), t, np.inf)


def round_cone_hits(rays, a, b, ra, rb):
    """Entry distance and outward normal for the hull of sphere (a, ra) and sphere (b, rb).

    The hull is the two spheres plus the cone tangent to both. In the plane through the axis,
    with h the distance along the axis from a and q the distance from the axis, the tangent cone
    is q cos(phi) + h sin(phi) = ra with sin(phi) = (ra - rb) / |b - a|; it is part of the surface
    only between the two tangency circles, ra sin(phi) <= h <= |b - a| + rb sin(phi). The entry
    point is the nearest of: either sphere's entry, and the cone's nearest valid root (every
    sphere point lies inside the hull, so a sphere entry never comes before the true entry).
    """
    axis = b - a
    length = float(np.linalg.norm(axis))
    if length < 1e-6 or abs(ra - rb) >= length:  # one sphere swallows the other
        big_c, big_r = (a, ra) if ra >= rb else (b, rb)
        t = sphere_hits(rays, big_c, big_r)
        if not np.isfinite(t).any():
            return t, None
        return t, unit(rays * np.where(np.isfinite(t), t, 0.0)[:, None] - big_c)
    w = axis / length
    sin_phi = (ra - rb) / length
    cos2 = 1.0 - sin_phi * sin_phi
    oa = -a                                  # ray origin (camera centre) relative to a
    h0 = oa @ w
    hd = rays @ w
    od = rays @ oa
    k0 = ra - sin_phi * h0
    qa = cos2 * (1.0 - hd * hd) - sin_phi * sin_phi * hd * hd
    qb = 2.0 * (cos2 * (od - h0 * hd) + sin_phi * hd * k0)
    qc = cos2 * (oa @ oa - h0 * h0) - k0 * k0
    disc = qb * qb - 4.0 * qa * qc
    ok = (disc >= 0.0) & (np.abs(qa) > 1e-12)
    sq = np.sqrt(np.maximum(disc, 0.0))
    safe_qa = np.where(ok, qa, 1.0)
    t_cone = np.full(rays.shape[0], np.inf)
    for sign in (-1.0, 1.0):
        t = (-qb + sign * sq) / (2.0 * safe_qa)
        h = h0 + t * hd
        valid = (ok & (t > 0.0) & (ra - sin_phi * h >= 0.0)
                 & (h >= ra * sin_phi) & (h <= length + rb * sin_phi))
        t_cone = np.where(valid & (t < t_cone), t, t_cone)
    t_a = sphere_hits(rays, a, ra)
    t_b = sphere_hits(rays, b, rb)
    t_best = np.minimum(np.minimum(t_cone, t_a), t_b)
    hit = np.isfinite(t_best)
    if not hit.any():
        return t_best, None
    # normals: radial direction tilted along the axis on the cone, radial on the spheres
    p = rays * np.where(hit, t_best, 0.0)[:, None]
    rel = p - a
    h = rel @ w
    radial = unit(rel - h[:, None] * w + 1e-12)
    n_cone = np.sqrt(cos2) * radial + sin_phi * w
    n = np.where((t_best == t_cone)[:, None], n_cone,
                 np.where((t_best == t_a)[:, None], unit(p - a), unit(p - b)))
    return t_best, n


def ellipsoid_hits(rays, centre, axes, radii):
    """Entry distance, outward normal and the hit point in unit-sphere coordinates of an ellipsoid.

    axes: 3x3 with the ellipsoid's unit axes as rows; radii: its three semi-axes.
    """
    o = (axes @ -centre) / radii
    d = (rays @ axes.T) / radii
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * (d @ o)
    qc = o @ o - 1.0
    disc = qb * qb - 4.0 * qa * qc
    t = (-qb - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * qa)
    t = np.where((disc >= 0.0) & (t > 0.0), t, np.inf)
    hit = np.isfinite(t)
    if not hit.any():
        return t, None, None
    local = o + d * np.where(hit, t, 0.0)[:, None]          # on the unit sphere
    n = unit((local / radii) @ axes)                        # gradient of the implicit form
    return t, n, local


def frame_from(right, up):
    """Orthonormal (right, up, forward) rows from rough right and up directions (right-handed)."""
    r = right / (np.linalg.norm(right) + 1e-12)
    u = up - (up @ r) * r
    u /= np.linalg.norm(u) + 1e-12
    f = np.cross(u, r)
    return np.stack([r, u, f])


def perpendicular(direction, hint):
    """A unit vector perpendicular to `direction`, as close to `hint` as possible."""
    p = hint - (hint @ direction) * direction
    n = np.linalg.norm(p)
    if n < 1e-6:
        p = np.cross(direction, [1.0, 0.0, 0.0])
        if np.linalg.norm(p) < 1e-6:
            p = np.cross(direction, [0.0, 1.0, 0.0])
        n = np.linalg.norm(p)
    return p / n
