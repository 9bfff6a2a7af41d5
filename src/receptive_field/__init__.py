"""The receptive field of a CNN: exact theoretical RF by graph tracing, and the effective RF (lesson 01).

Theory (Araujo et al., "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019; Dumoulin & Visin, arXiv 1603.07285): along each axis a
layer with kernel ``k``, stride ``s``, dilation ``d`` and padding ``p`` maps
``(r, j, c)`` -- receptive field size, jump (distance in input pixels between
two neighbouring outputs) and centre of the first output's field -- to::

    k' = d (k - 1) + 1
    r  <- r + (k' - 1) j
    c  <- c + ((k' - 1) / 2 - p) j
    j  <- j s

:func:`receptive_field` traces the model with ``torch.fx`` and propagates
``(r, j, c)`` node by node, so branches that merge by addition or
concatenation (ResNet, DenseNet, Inception) are handled exactly: a merge takes
the union of its inputs' boxes. An operation it does not know is named in an
error, never skipped. :func:`effective_receptive_field` measures the gradient
of one output unit with respect to the input, averaged over random inputs
(Luo et al., "Understanding the Effective Receptive Field in Deep
Convolutional Neural Networks", arXiv 1701.04128).

The package, one idea per module:

``report``   :class:`RFReport` (size, jump, the box of a unit, the per-layer table)
``rules``    how one operation changes ``(r, j, c)``; the union at merges
``tracer``   :func:`receptive_field`: the ``torch.fx`` walk over the graph
``erf``      :func:`effective_receptive_field`, :func:`erf_coverage`
``chains``   the exercises' helpers: :func:`rf_of_chain`, :func:`smallest_depth`, :func:`conv_chain`
``figure``   :func:`show_receptive_field` and the slider demo on a conv chain
``zoo``      the explorer's networks, photos, trace cache and click -> unit mapping
``widget``   :func:`explorer`: the JupyterLab explorer (a static figure when headless)
``export``   :func:`export_page` / ``python -m src.receptive_field.export``: one self-contained HTML page
``selfcheck`` lesson 01's core for ``python -m src.selfcheck``

The experiment's model :class:`~src.models.RFLadder` lives in :mod:`src.models` and the
silhouette data in :mod:`src.data`; both stay importable from here.
"""

from __future__ import annotations

from ..data import silhouette_loaders
from ..models import RFLadder
from .chains import conv_chain, rf_of_chain, smallest_depth
from .erf import effective_receptive_field, erf_coverage
from .figure import chain_explorer, show_receptive_field
from .report import LayerRow, RFReport
from .selfcheck import selfcheck_core
from .tracer import receptive_field, receptive_fields
from .widget import ExplorerState, explorer
from .zoo import MODELS, PHOTOS, clear_trace_cache, load_photo, trace, trace_cache_info, unit_at

__all__ = [
    "MODELS",
    "PHOTOS",
    "ExplorerState",
    "LayerRow",
    "RFLadder",
    "RFReport",
    "chain_explorer",
    "clear_trace_cache",
    "conv_chain",
    "effective_receptive_field",
    "erf_coverage",
    "explorer",
    "export_page",
    "load_photo",
    "receptive_field",
    "receptive_fields",
    "rf_of_chain",
    "selfcheck_core",
    "show_receptive_field",
    "silhouette_loaders",
    "smallest_depth",
    "trace",
    "trace_cache_info",
    "unit_at",
]


def __getattr__(name: str):
    # imported on first use, so that ``python -m src.receptive_field.export`` runs a fresh module
    if name == "export_page":
        from .export import export_page

        return export_page
    raise AttributeError(name)
