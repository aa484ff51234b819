"""Pictures of runs: toy-data sample scatters over a critic/density field,
the latent codes of a 2-D autoencoder over its prior, and training curves
from a run's metrics.jsonl.

Figures are drawn with matplotlib's object API on an Agg canvas
(`matplotlib.figure.Figure` + `FigureCanvasAgg`), never through pyplot, so
drawing neither needs a display nor changes the backend of a notebook that
imports this module; matplotlib itself is imported lazily on first use.
"""

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from gdm_jax import checks

DATA_COLOR = "0.55"          # grey
SAMPLE_COLOR = "tab:orange"
FIELD_CMAP = "viridis"
IMAGE_SIZE = 400             # toy_scatter returns [IMAGE_SIZE, IMAGE_SIZE, 3]
GRID_POINTS = 150            # field evaluated on a GRID_POINTS^2 grid (2-D)


def new_figure(width_px: int, height_px: int, dpi: int = 100):
  """A matplotlib Figure of width_px x height_px pixels on its own Agg
  canvas (no pyplot state, so safe in threads and headless runs); render it
  with `figure_to_rgb`."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
  FigureCanvasAgg(fig)
  return fig


def figure_to_rgb(fig) -> np.ndarray:
  """Renders a figure: float32 [H, W, 3] in [0, 1] (for the image writers)."""
  fig.canvas.draw()
  rgba = np.asarray(fig.canvas.buffer_rgba())
  return rgba[..., :3].astype(np.float32) / 255.0


def _default_extent(points: np.ndarray) -> tuple[float, ...]:
  """Bounds of `points` [N, D] (D in {1, 2}) with a 10% margin, per axis."""
  lo, hi = np.nanmin(points, 0), np.nanmax(points, 0)
  pad = 0.1 * (hi - lo) + 1e-3 * (1.0 + np.abs(hi) + np.abs(lo))
  lo, hi = lo - pad, hi + pad
  return tuple(float(v) for pair in zip(lo, hi) for v in pair)


def _levels(values: np.ndarray, field_range: Sequence[float] | None
            ) -> np.ndarray | None:
  """Contour levels for a field, or None if it has no finite spread.

  With `field_range` = (vmin, vmax): 21 even levels. Otherwise the levels are
  the 0, 5, ..., 100th percentiles of the finite values (histogram
  equalisation), so each colour covers about the same area: a log-density
  that is -3000 over most of the grid and peaks in small discs, and a critic
  of any scale, both show their structure.
  """
  if field_range is not None:
    lo, hi = (float(v) for v in field_range)
    return np.linspace(lo, hi, 21) if hi > lo else None
  finite = values[np.isfinite(values)]
  if finite.size == 0:
    return None
  levels = np.unique(np.percentile(finite, np.linspace(0.0, 100.0, 21)))
  return levels if len(levels) >= 2 else None


def toy_scatter(samples, data=None,
                field_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                extent: Sequence[float] | None = None, title: str = "",
                field_range: Sequence[float] | None = None,
                max_points: int = 5000) -> np.ndarray:
  """Model samples against data, over an optional critic or density field.

  2-D (D = 2): data as grey dots, samples as orange dots, and if `field_fn`
  is given its values on a 150 x 150 grid over `extent` as filled contours
  (e.g. a discriminator/critic value, or a log-density) with a colour bar;
  the contour levels equalise the field's histogram unless `field_range`
  fixes them.
  1-D (D = 1): density histograms of data (grey, filled) and samples
  (orange, outline), and `field_fn` on 400 points as a curve on a right-hand
  axis of its own.

  Args:
    samples: [N, D] model samples, D in {1, 2}.
    data: [M, D] data points, or None.
    field_fn: grid points float32 [G, D] -> [G] (numpy or JAX); non-finite
      values (log p = -inf off the support) are left blank.
    extent: (xmin, xmax, ymin, ymax) in 2-D, (xmin, xmax) in 1-D; default:
      the data's bounds (the samples' without data) plus a 10% margin.
    title: axes title.
    field_range: optional (vmin, vmax) for 21 evenly spaced contour levels
      (e.g. (0, 1) for a discriminator's probability); values below vmin get
      the lowest colour.
    max_points: at most this many points of each set are drawn (the first
      finite ones), to keep drawing fast; non-finite points are skipped.

  Returns:
    float32 [400, 400, 3] RGB image in [0, 1].

  Raises:
    ValueError: non-numeric samples or data, D not in {1, 2}, samples and
      data of different D, or max_points not a positive int.
  """
  fn = "plots.toy_scatter"
  checks.check_arg(fn, "samples", samples, "numeric")
  samples = np.asarray(samples, np.float64)
  if samples.ndim != 2 or samples.shape[1] not in (1, 2):
    raise ValueError(f"{fn}: draws [N, 1] or [N, 2] samples; got shape "
                     f"{samples.shape}.")
  dim = samples.shape[1]
  checks.check_positive_int(fn, "max_points", max_points)
  if data is not None:
    checks.check_arg(fn, "data", data, "numeric")
    data = np.asarray(data, np.float64)
    if data.ndim != 2 or data.shape[1] != dim:
      raise ValueError(f"data must be [M, {dim}] like the samples ({fn}); "
                       f"got {data.shape}.")
  # Non-finite points (a diverged model) are not drawn.
  samples = samples[np.all(np.isfinite(samples), axis=1)][:max_points]
  if data is not None:
    data = data[np.all(np.isfinite(data), axis=1)][:max_points]
  if extent is None:
    ref = data if data is not None and len(data) else samples
    extent = _default_extent(ref) if len(ref) else (-1.0, 1.0) * dim
  extent = tuple(float(e) for e in extent)
  if len(extent) != 2 * dim:
    raise ValueError(f"extent needs {2 * dim} numbers for {dim}-D data; got "
                     f"{extent}.")

  fig = new_figure(IMAGE_SIZE, IMAGE_SIZE)
  ax = fig.add_subplot(1, 1, 1)
  if dim == 2:
    _scatter_2d(fig, ax, samples, data, field_fn, extent, field_range)
  else:
    _histogram_1d(ax, samples, data, field_fn, extent, field_range)
  if title:
    ax.set_title(title, fontsize=9)
  ax.tick_params(labelsize=7)
  fig.tight_layout(pad=0.4)
  return figure_to_rgb(fig)


def _scatter_2d(fig, ax, samples, data, field_fn, extent, field_range):
  xmin, xmax, ymin, ymax = extent
  if field_fn is not None:
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, GRID_POINTS),
                         np.linspace(ymin, ymax, GRID_POINTS))
    grid = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
    values = np.asarray(field_fn(grid), np.float64).reshape(gx.shape)
    levels = _levels(values, field_range)
    if levels is not None:
      from mpl_toolkits.axes_grid1 import make_axes_locatable  # pylint: disable=g-import-not-at-top
      cs = ax.contourf(gx, gy, np.ma.masked_invalid(values), levels=levels,
                       cmap=FIELD_CMAP, alpha=0.7, extend="both")
      cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.05)
      cbar = fig.colorbar(cs, cax=cax, format="%.3g")
      cbar.ax.tick_params(labelsize=6)
  if data is not None:
    ax.scatter(data[:, 0], data[:, 1], s=2, c=DATA_COLOR, alpha=0.5,
               linewidths=0, label="data")
  ax.scatter(samples[:, 0], samples[:, 1], s=2, c=SAMPLE_COLOR, alpha=0.7,
             linewidths=0, label="samples")
  ax.set_xlim(xmin, xmax)
  ax.set_ylim(ymin, ymax)
  ax.set_aspect("equal", adjustable="box")
  ax.legend(loc="upper right", fontsize=6, markerscale=4)


def _histogram_1d(ax, samples, data, field_fn, extent, field_range):
  xmin, xmax = extent
  bins = np.linspace(xmin, xmax, 61)
  if data is not None:
    ax.hist(data[:, 0], bins=bins, density=True, color=DATA_COLOR, alpha=0.6,
            label="data")
  ax.hist(samples[:, 0], bins=bins, density=True, histtype="step",
          color=SAMPLE_COLOR, linewidth=1.5, label="samples")
  ax.set_xlim(xmin, xmax)
  ax.set_ylabel("density", fontsize=7)
  if field_fn is not None:
    xs = np.linspace(xmin, xmax, 400)
    values = np.asarray(field_fn(xs[:, None].astype(np.float32)), np.float64)
    twin = ax.twinx()
    twin.plot(xs, np.where(np.isfinite(values), values, np.nan),
              color="tab:blue", linewidth=1.2, label="field")
    twin.tick_params(labelsize=7, colors="tab:blue")
    twin.set_ylabel("field", fontsize=7, color="tab:blue")
    if field_range is not None:
      twin.set_ylim(*field_range)
  ax.legend(loc="upper left", fontsize=6)


# --- Latent codes of a 2-D autoencoder ----------------------------------------


def latent_scatter_figure(z, labels, prior, title: str = "", class_names=None,
                          max_points: int = 10000) -> np.ndarray:
  """Codes coloured by label over the prior's density contours.

  The print-quality version of `gdm_jax.rasters.latent_raster` (the picture
  a 2-D AAE / WAE draws in its `images`), e.g. for the encoded test set
  (experiments/aae_latent_figure.py).

  Args:
    z: [N, 2] codes; labels: int [N] or None (black dots).
    prior: a 2-D `gdm_jax.models.latent_priors.LatentPrior` (density
      contours where it has a density, else 5000 prior samples in grey).
    title: axes title; class_names: legend names per label.
    max_points: at most this many codes are drawn.

  Returns:
    float32 [H, W, 3] RGB in [0, 1].

  Raises:
    ValueError: z not [N, 2].
  """
  import jax  # pylint: disable=g-import-not-at-top
  from gdm_jax.rasters import TAB10  # pylint: disable=g-import-not-at-top
  z = np.asarray(z, np.float64)[:max_points]
  if z.ndim != 2 or z.shape[1] != 2:
    raise ValueError(f"plots.latent_scatter_figure draws [N, 2] codes; got "
                     f"{z.shape}.")
  fig = new_figure(560, 480)
  ax = fig.add_subplot(1, 1, 1)
  xmin, xmax, ymin, ymax = prior.extent
  if prior.log_prob is not None:
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200))
    grid = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
    dens = np.exp(np.asarray(prior.log_prob(grid), np.float64))
    ax.contourf(gx, gy, dens.reshape(gx.shape), levels=12, cmap="Greys",
                alpha=0.6)
  else:
    pts = np.asarray(prior.sample(jax.random.PRNGKey(0), 5000))
    ax.scatter(pts[:, 0], pts[:, 1], s=1, c="0.6", linewidths=0)
  if labels is None:
    ax.scatter(z[:, 0], z[:, 1], s=2, c="k", alpha=0.6, linewidths=0)
  else:
    labels = np.asarray(labels)[:len(z)]
    for k in np.unique(labels):
      sel = labels == k
      name = class_names[k] if class_names is not None else str(k)
      ax.scatter(z[sel, 0], z[sel, 1], s=2, color=TAB10[k % 10], alpha=0.7,
                 linewidths=0, label=name)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7,
              markerscale=5, frameon=False)
  ax.set_xlim(xmin, xmax)
  ax.set_ylim(ymin, ymax)
  ax.set_aspect("equal", adjustable="box")
  ax.tick_params(labelsize=7)
  if title:
    ax.set_title(title, fontsize=9)
  fig.tight_layout(pad=0.4)
  return figure_to_rgb(fig)


# --- Training curves ---------------------------------------------------------

EXCLUDED_KEYS = ("step", "split", "wall_time_s")


def read_metrics(path: str) -> list[dict]:
  """The records of a metrics.jsonl file (one JSON object per line).

  Raises:
    FileNotFoundError: no such file.
    ValueError: a line is not a JSON object (the message names the line).
  """
  records = []
  with open(path) as f:
    for i, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        rec = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{i} is not JSON: {e}") from e
      if not isinstance(rec, dict):
        raise ValueError(f"{path}:{i} is not a JSON object.")
      records.append(rec)
  return records


def _is_number(v) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def default_curve_keys(records: Iterable[dict]) -> list[str]:
  """Every numeric metric in the records except step, split and wall_time_s,
  in order of first appearance."""
  keys = []
  for rec in records:
    for k, v in rec.items():
      if k not in EXCLUDED_KEYS and _is_number(v) and k not in keys:
        keys.append(k)
  return keys


def plot_curves(metrics_jsonl_path: str, out_png: str,
                keys: Sequence[str] | None = None, ncols: int = 3,
                title: str | None = None) -> list[str]:
  """Training curves of a run: one subplot per metric, one line per split.

  Reads WORKDIR/metrics.jsonl ({"step", "split", metric: value, ...} per
  line; see gdm_jax/train/logging.py) and draws each metric against the
  step, with a line for each split that logged it ('train', 'validation';
  a split with one point, e.g. the final 'test', is a marker). Non-finite
  values are skipped.

  Args:
    metrics_jsonl_path: the run's metrics.jsonl.
    out_png: PNG path to write (folders are created).
    keys: metrics to draw (default: every numeric key except step, split
      and wall_time_s).
    ncols: subplots per row.
    title: figure title (default: the run folder's name).

  Returns:
    The keys drawn.

  Raises:
    ValueError: no records, or none of `keys` is in the file.
  """
  records = read_metrics(metrics_jsonl_path)
  if not records:
    raise ValueError(f"{metrics_jsonl_path} holds no metrics.")
  available = default_curve_keys(records)
  if keys is None:
    keys = available
  else:
    missing = [k for k in keys if k not in available]
    keys = [k for k in keys if k in available]
    if not keys:
      raise ValueError(f"none of the keys {missing} is in {metrics_jsonl_path};"
                       f" it has {available}.")
  splits = []
  for rec in records:
    if rec.get("split", "train") not in splits:
      splits.append(rec.get("split", "train"))

  ncols = max(1, min(ncols, len(keys)))
  nrows = math.ceil(len(keys) / ncols)
  fig = new_figure(330 * ncols, 250 * nrows + 30)
  for i, key in enumerate(keys):
    ax = fig.add_subplot(nrows, ncols, i + 1)
    for j, split in enumerate(splits):
      pts = [(r["step"], r[key]) for r in records
             if r.get("split", "train") == split and _is_number(r.get(key))
             and _is_number(r.get("step")) and math.isfinite(r[key])]
      if not pts:
        continue
      pts.sort()
      steps, values = zip(*pts)
      style = {"marker": "o", "markersize": 3} if len(pts) == 1 else {}
      ax.plot(steps, values, color=f"C{j}", linewidth=1.0, label=split,
              **style)
    ax.set_title(key, fontsize=9)
    ax.set_xlabel("step", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
  if title is None:
    title = os.path.basename(os.path.dirname(os.path.abspath(
        metrics_jsonl_path)))
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
  fig.savefig(out_png)
  return list(keys)
