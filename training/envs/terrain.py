"""Rough terrain as one MuJoCo height field: IsaacLab's ROUGH_TERRAINS_CFG as hfield patterns.

A grid of `num_rows` (difficulty levels) x `num_cols` (terrain types) square sub-terrains inside a
flat border. Every IsaacLab type is drawn as a height pattern at `horizontal_scale_m` (`heights_m`:
the height scan, spawn heights and base height read it). MuJoCo's height-field surface is linear
between samples, so a step drawn in it alone is a ramp one sample wide (0.1 m) where IsaacLab's
stair meshes have a vertical riser: a 0.3 m tread would be 0.2 m flat and 0.1 m ramp. Stairs are
therefore collided with as boxes (`boxes`: one slab per step of a pyramid, four per ring of an
inverted one) over a height field lowered under them (`collision_heights_m`), so their risers are
vertical and their treads flat, as IsaacLab's; the `boxes` type keeps 0.1 m ramps at its cell edges
(its grid as boxes, 14,160 of them, measured 2.3x the env step of go2_rough at 128 envs).
World frame: the field's corner is at (0, 0); x runs along rows (difficulty), y along columns.
`height_at` stands in for IsaacLab's ray caster (the height scan, spawn and base heights): on a
stair tile the box tops, exactly (a riser is a step between two 0.1 m scan rays, as a ray cast on
IsaacLab's mesh sees it); elsewhere the field's samples, bilinearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TERRAIN_TYPES = (
    "pyramid_stairs",
    "pyramid_stairs_inv",
    "boxes",
    "random_rough",
    "pyramid_slope",
    "pyramid_slope_inv",
)
STAIR_TYPES = ("pyramid_stairs", "pyramid_stairs_inv")  # collided with as boxes (module doc)


@dataclass(frozen=True)
class TerrainCfg:
    """Ground of a task: a plane, or IsaacLab's rough sub-terrain grid with a level curriculum."""

    kind: str = "rough"
    """"flat" (MuJoCo plane) or "rough" (height field)."""
    size_m: float = 8.0
    """Side length of one sub-terrain."""
    border_width_m: float = 20.0
    """Flat border around the grid."""
    num_rows: int = 10
    """Difficulty levels (rows along x)."""
    num_cols: int = 20
    """Terrain-type columns (along y), split by `proportions`."""
    horizontal_scale_m: float = 0.1
    """Height-field sample spacing."""
    vertical_scale_m: float = 0.005
    """Height quantum: every height is rounded to a multiple of it (IsaacLab's int16 field)."""
    proportions: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.1, 0.1)
    """Share of columns per type, in TERRAIN_TYPES order."""
    stairs_step_height_m: tuple[float, float] = (0.05, 0.23)
    """Stair rise at difficulty 0 and 1."""
    stairs_step_width_m: float = 0.3
    stairs_platform_m: float = 3.0
    stairs_border_m: float = 1.0
    boxes_grid_width_m: float = 0.45
    boxes_grid_height_m: tuple[float, float] = (0.05, 0.2)
    """Box height bound at difficulty 0 and 1 (heights uniform in +-bound)."""
    boxes_platform_m: float = 2.0
    rough_noise_m: tuple[float, float] = (0.02, 0.10)
    """random_rough height range (difficulty-independent, as in IsaacLab)."""
    rough_noise_step_m: float = 0.02
    slope: tuple[float, float] = (0.0, 0.4)
    """Pyramid slope (rise / run) at difficulty 0 and 1."""
    slope_platform_m: float = 2.0
    min_init_level: int = 0
    max_init_level: int = 5
    """Initial levels are uniform integers in [min_init_level, max_init_level] (evaluation:
    the hardest third of the rows)."""
    curriculum: bool = True
    """Move envs up / down levels by distance walked (terrain_levels_vel)."""


class Terrain:
    """Generated heights [ny, nx] (world z, MuJoCo hfield row = y) and sub-terrain origins."""

    def __init__(self, cfg: TerrainCfg, rng: np.random.Generator) -> None:
        self.cfg = cfg
        h = cfg.horizontal_scale_m
        self.px_per_tile = round(cfg.size_m / h)
        self.border_px = round(cfg.border_width_m / h)
        nx = cfg.num_rows * self.px_per_tile + 2 * self.border_px + 1
        ny = cfg.num_cols * self.px_per_tile + 2 * self.border_px + 1
        self.heights_m = np.zeros((ny, nx))
        self.origins = np.zeros((cfg.num_rows, cfg.num_cols, 3))
        self.col_types = column_types(cfg.proportions, cfg.num_cols)
        self.difficulty = np.zeros((cfg.num_rows, cfg.num_cols))  # of each tile, in [0, 1)
        for row in range(cfg.num_rows):
            for col in range(cfg.num_cols):
                self.difficulty[row, col] = (row + rng.uniform()) / cfg.num_rows
                self._place(row, col, self.col_types[col], self.difficulty[row, col], rng)
        self.heights_m = np.round(self.heights_m / cfg.vertical_scale_m) * cfg.vertical_scale_m
        for row in range(cfg.num_rows):
            for col in range(cfg.num_cols):
                self.origins[row, col] = self._origin(row, col)
        # Stairs as boxes over a field lowered to the lowest neighbouring sample (inside the
        # tiles only), so that no ramp of the field rises above a tread next to a riser.
        self.collision_heights_m = self.heights_m.copy()
        box_rows: list[np.ndarray] = []
        lowered = _min_filter3(self.heights_m)
        for row in range(cfg.num_rows):
            for col in range(cfg.num_cols):
                kind = self.col_types[col]
                if kind not in STAIR_TYPES:
                    continue
                sy, sx = self._tile_slice(row, col)
                inner = (slice(sy.start + 1, sy.stop - 1), slice(sx.start + 1, sx.stop - 1))
                self.collision_heights_m[inner] = lowered[inner]
                box_rows.append(
                    stair_boxes(cfg, kind, self.difficulty[row, col], self.origins[row, col, :2])
                )
        self.boxes = np.concatenate(box_rows) if box_rows else np.zeros((0, 6))
        """[B, 6] static boxes of the stairs: centre xyz, half sizes xyz, world frame."""
        # per column: +1 pyramid stairs, -1 a pit, 0 no stairs; per tile: the rise
        self._stair_sign = np.array(
            [(-1.0 if k.endswith("_inv") else 1.0) if k in STAIR_TYPES else 0.0
             for k in self.col_types]
        )  # fmt: skip
        self._rise = np.vectorize(lambda d: _stair_rise(cfg, d))(self.difficulty)

    @property
    def extent_m(self) -> tuple[float, float]:
        """World size (x, y) covered by the field."""
        ny, nx = self.heights_m.shape
        return (nx - 1) * self.cfg.horizontal_scale_m, (ny - 1) * self.cfg.horizontal_scale_m

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ground height at world points, any matching shapes: on stair tiles the top of the
        box under the point; elsewhere bilinear between the field's samples."""
        h = self.cfg.horizontal_scale_m
        ny, nx = self.heights_m.shape
        fx = np.clip(x / h, 0.0, nx - 1.001)
        fy = np.clip(y / h, 0.0, ny - 1.001)
        ix, iy = fx.astype(np.int64), fy.astype(np.int64)
        tx, ty = fx - ix, fy - iy
        flat = self.heights_m.reshape(-1)
        i00 = iy * nx + ix
        z00, z01 = flat[i00], flat[i00 + 1]
        z10, z11 = flat[i00 + nx], flat[i00 + nx + 1]
        z = (z00 * (1 - tx) + z01 * tx) * (1 - ty) + (z10 * (1 - tx) + z11 * tx) * ty
        if self._stair_sign.any():
            self._stair_tops(np.asarray(x, dtype=float), np.asarray(y, dtype=float), z)
        return z

    def _stair_tops(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        """Overwrite z at points on stair tiles with the tile's exact level there: a point at
        Chebyshev distance r from the tile centre is on level n = #(rings with r <= half)."""
        cfg = self.cfg
        u = (x - cfg.border_width_m) / cfg.size_m  # in tiles: row along x, column along y
        v = (y - cfg.border_width_m) / cfg.size_m
        row, col = np.floor(u), np.floor(v)
        on = (row >= 0) & (row < cfg.num_rows) & (col >= 0) & (col < cfg.num_cols)
        sign = self._stair_sign[np.clip(col, 0, cfg.num_cols - 1).astype(np.int64)]
        on &= sign != 0
        if not on.any():
            return
        r = cfg.size_m * np.maximum(np.abs(u[on] - row[on] - 0.5), np.abs(v[on] - col[on] - 0.5))
        level = stair_level(cfg, r)
        rise = self._rise[row[on].astype(np.int64), col[on].astype(np.int64)]
        q = cfg.vertical_scale_m
        z[on] = sign[on] * np.round(level * rise / q) * q

    def _tile_slice(self, row: int, col: int) -> tuple[slice, slice]:
        n, b = self.px_per_tile, self.border_px
        return slice(b + col * n, b + (col + 1) * n + 1), slice(b + row * n, b + (row + 1) * n + 1)

    def _place(
        self, row: int, col: int, kind: str, difficulty: float, rng: np.random.Generator
    ) -> None:
        sy, sx = self._tile_slice(row, col)
        tile = tile_heights(self.cfg, kind, difficulty, self.px_per_tile + 1, rng)
        self.heights_m[sy, sx] = tile

    def _origin(self, row: int, col: int) -> np.ndarray:
        """Centre of a sub-terrain, at the highest ground within 1 m of it (IsaacLab's rule)."""
        size, b = self.cfg.size_m, self.cfg.border_width_m
        x, y = b + (row + 0.5) * size, b + (col + 0.5) * size
        h = self.cfg.horizontal_scale_m
        i, j = round(y / h), round(x / h)
        r = round(1.0 / h)
        z = self.heights_m[i - r : i + r + 1, j - r : j + r + 1].max()
        return np.array([x, y, z])


def stair_rings(cfg: TerrainCfg) -> tuple[int, np.ndarray]:
    """Levels of a stair pyramid (steps + the platform) and each level's half width: level k
    (1-based) covers Chebyshev distance <= half[k - 1] from the tile centre."""
    span = (cfg.size_m - cfg.stairs_platform_m) / 2 - cfg.stairs_border_m
    num_steps = max(int(span // cfg.stairs_step_width_m), 1)
    levels = num_steps + 1
    half = cfg.size_m / 2 - cfg.stairs_border_m - np.arange(levels) * cfg.stairs_step_width_m
    return levels, half


def stair_level(cfg: TerrainCfg, r: np.ndarray) -> np.ndarray:
    """Level of points at Chebyshev distance r from a stair tile's centre: how many rings'
    squares hold each (a point on a riser is the upper level's)."""
    _, half = stair_rings(cfg)
    return (np.asarray(r)[..., None] <= half + 1e-9).sum(axis=-1)


def stair_boxes(cfg: TerrainCfg, kind: str, difficulty: float, centre_xy: np.ndarray) -> np.ndarray:
    """[B, 6] boxes (centre xyz, half sizes xyz) of a stair tile of `kind` at `difficulty`, whose
    tops are the tile's (rounded) heights and whose sides are its risers."""
    rise = _stair_rise(cfg, difficulty)
    levels, half = stair_rings(cfg)
    q = cfg.vertical_scale_m
    tops = np.round(np.arange(levels + 1) * rise / q) * q  # height of level 0..levels
    cx, cy = centre_xy
    out = []
    if kind == "pyramid_stairs":  # nested slabs standing on the tile's floor (0)
        for k in range(1, levels + 1):
            a, top = half[k - 1], tops[k]
            out.append([cx, cy, top / 2, a, a, top / 2])
    else:  # a pit: rings standing on its floor, level j outside the square of level j + 1
        floor = -tops[levels]
        outer = cfg.size_m / 2
        for j in range(levels):
            a, top = half[j], -tops[j]
            hz, z = (top - floor) / 2, (top + floor) / 2
            w = (outer - a) / 2  # half width of the ring's band
            out += [
                [cx, cy + a + w, z, outer, w, hz],
                [cx, cy - a - w, z, outer, w, hz],
                [cx + a + w, cy, z, w, a, hz],
                [cx - a - w, cy, z, w, a, hz],
            ]
    return np.array(out, dtype=float)


def _stair_rise(cfg: TerrainCfg, difficulty: float) -> float:
    return _lerp(cfg.stairs_step_height_m, difficulty)


def _min_filter3(z: np.ndarray) -> np.ndarray:
    """Minimum over each sample's 3 x 3 neighbourhood (edges: over the neighbours that exist)."""
    padded = np.pad(z, 1, mode="edge")
    ny, nx = z.shape
    return np.min([padded[i : i + ny, j : j + nx] for i in range(3) for j in range(3)], axis=0)


def column_types(proportions: tuple[float, ...], num_cols: int) -> tuple[str, ...]:
    """Type of each column: the first whose cumulative proportion exceeds col / num_cols."""
    if len(proportions) != len(TERRAIN_TYPES):
        raise ValueError(f"proportions needs {len(TERRAIN_TYPES)} values, one per TERRAIN_TYPES")
    cum = np.cumsum(np.asarray(proportions) / np.sum(proportions))
    out = []
    for col in range(num_cols):
        k = int(np.searchsorted(cum, col / num_cols + 0.001, side="right"))
        out.append(TERRAIN_TYPES[min(k, len(TERRAIN_TYPES) - 1)])
    return tuple(out)


def tile_heights(
    cfg: TerrainCfg, kind: str, difficulty: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Heights [n, n] of one sub-terrain of `kind` at `difficulty` in [0, 1]."""
    h = cfg.horizontal_scale_m
    coords = (np.arange(n) - (n - 1) / 2) * h
    cy, cx = np.meshgrid(coords, coords, indexing="ij")
    # Chebyshev distance to the tile edge: the "ring" coordinate of every pyramid pattern.
    edge = cfg.size_m / 2 - np.maximum(np.abs(cx), np.abs(cy))
    if kind in STAIR_TYPES:
        rise = _stair_rise(cfg, difficulty)
        z = stair_level(cfg, np.maximum(np.abs(cx), np.abs(cy))) * rise
        return -z if kind.endswith("_inv") else z
    if kind == "boxes":
        bound = _lerp(cfg.boxes_grid_height_m, difficulty)
        cells = int(np.ceil(cfg.size_m / cfg.boxes_grid_width_m)) + 1
        grid = rng.uniform(-bound, bound, size=(cells, cells))
        idx = np.minimum(
            ((coords + cfg.size_m / 2) / cfg.boxes_grid_width_m).astype(int), cells - 1
        )
        z = grid[np.ix_(idx, idx)]
        platform = np.maximum(np.abs(cx), np.abs(cy)) <= cfg.boxes_platform_m / 2
        return np.where(platform, 0.0, z)
    if kind == "random_rough":
        lo, hi = cfg.rough_noise_m
        levels = np.arange(lo, hi + 1e-9, cfg.rough_noise_step_m)
        return rng.choice(levels, size=(n, n))
    if kind in ("pyramid_slope", "pyramid_slope_inv"):
        slope = _lerp(cfg.slope, difficulty)
        top = cfg.size_m / 2 - cfg.slope_platform_m / 2
        z = slope * np.clip(edge, 0.0, top)
        return -z if kind.endswith("_inv") else z
    raise ValueError(f"unknown terrain type {kind!r}; known: {TERRAIN_TYPES}")


def _lerp(bounds: tuple[float, float], t: float) -> float:
    return bounds[0] + t * (bounds[1] - bounds[0])
