r"""Export to and import from NIR graphs (Neuromorphic Intermediate Representation).

NIR (``pip install nir``, `neuroir.org <https://neuroir.org>`_) describes a network as a graph
of continuous-time nodes; this module converts a :class:`~neuroplastic.surrogate.Sequential`
of ``nn.Linear`` / :class:`~neuroplastic.surrogate.EventLinear` (-> ``Affine`` or ``Linear``),
``TimeDistributed(nn.Conv2d)`` (-> ``Conv2d``), ``TimeDistributed(nn.Flatten)`` (-> ``Flatten``),
:class:`~neuroplastic.surrogate.LIF` (-> ``LIF``), :class:`~neuroplastic.surrogate.CubaLIF`
(-> ``CubaLIF``), :class:`~neuroplastic.surrogate.RecurrentLIF` (-> a sub-graph
``input -> LIF -> output`` with the recurrent edge ``LIF -> Linear -> LIF``) and
:class:`~neuroplastic.surrogate.LI` (-> ``LI``) into a ``nir.NIRGraph`` and back.

**Units.** NIR times are in seconds; voltages are exported in the layer's own unit (mV for
biological ``LIFParams``, dimensionless for :func:`~neuroplastic.surrogate.discrete_lif_params`)
and the resistance in MΩ (so an input current is in nA and ``R I`` in mV).

**Parameter mapping.** NIR's LIF is :math:`\tau\,\dot v = (v_\mathrm{leak} - v) + R\,I`;
our layers take one exact-exponential step of ``dt`` per time bin,

.. math::  v_{t} = V_\mathrm{rest} + (v_{t-1} - V_\mathrm{rest})\,\alpha + d\, I_t ,

with per-neuron decay :math:`\alpha` and drive :math:`d`. ``v_leak = V_rest``,
``v_threshold``/``v_reset`` are the layer's, and ``R = d / (1 - \alpha)`` (for a layer built
from ``LIFParams``, exactly ``r_mohm``). NIR is continuous-time and does not fix a
discretisation, so the time constant depends on the step rule the importer will use
(``discretization``):

* ``"exact"`` (default) — exponential integration over ``dt``:
  :math:`\tau = -dt / \ln\alpha`; then :math:`e^{-dt/\tau} = \alpha` and
  :math:`R(1 - e^{-dt/\tau}) = d`. This is the physical time constant (``tau_mem_ms``).
* ``"euler"`` — forward Euler over ``dt`` (snnTorch, Norse):
  :math:`\tau = dt / (1 - \alpha)`; then :math:`1 - dt/\tau = \alpha` and
  :math:`R\,dt/\tau = d`. snnTorch's importer hard-codes ``dt = 1e-4`` s; Norse takes ``dt``.

``CubaLIF`` maps the synaptic decay the same way (``tau_syn``) with ``w_in = 1`` and ``R`` chosen
so that the exact synaptic drive (:func:`~neuroplastic.neurons.lif.realize_lif`'s ``drive_syn``)
is reproduced. Our current-based layers let arrivals act on the membrane one step later
(simulator semantics); importers that add the current in the same step differ by that step.

**Round trip.** Every neuron node also carries, in its ``metadata``, the layer's exact
coefficients (``decay``, ``drive``, ``threshold``, ``v_rest``, ``v_reset``, ``decay_syn``) in
the layer's dtype, the reset mode, the surrogate and ``dt``; :func:`from_nir` uses them when
present (after checking that they agree with the NIR fields), so export -> import -> forward is
bit-identical. Without metadata (graphs from other libraries) the coefficients are recomputed in
float64 from the NIR fields. NIR's LIF resets to ``v_reset``; our ``"subtract"`` reset survives
only through the metadata (other libraries will import a hard reset).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_choice, check_positive

__all__ = ["from_nir", "read_nir", "require_nir", "to_nir", "write_nir"]

DISCRETIZATIONS = ("exact", "euler")
_EXACT_KEYS = ("decay", "drive", "threshold", "v_rest", "v_reset", "decay_syn")


def require_nir():
    """Import and return the ``nir`` package, or raise an ImportError saying how to get it."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "neuroplastic.interop.nir needs the 'nir' package: pip install nir"
        ) from err
    return nir


# ----------------------------------------------------------------------------- coefficients
def _np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().copy()


def _tau(decay: np.ndarray, dt_s: float, disc: str) -> np.ndarray:
    if disc == "exact":
        return -dt_s / np.log(decay)
    return dt_s / (1.0 - decay)


def _decay(tau: np.ndarray, dt_s: float, disc: str) -> np.ndarray:
    if disc == "exact":
        return np.exp(-dt_s / tau)
    return 1.0 - dt_s / tau


def _syn_gain(tau_syn: np.ndarray, tau_mem: np.ndarray, dt_s: float, disc: str) -> np.ndarray:
    """Membrane drive per unit R of a unit synaptic current, one step (exact or Euler)."""
    if disc == "euler":
        return dt_s / tau_mem
    ek, em = np.exp(-dt_s / tau_syn), np.exp(-dt_s / tau_mem)
    same = np.isclose(tau_syn, tau_mem, rtol=1e-9, atol=0.0)
    safe = np.where(same, 0.5 * tau_mem, tau_mem)
    return np.where(same, dt_s / tau_mem * em, tau_syn / (tau_syn - safe) * (ek - em))


def _meta(layer: nn.Module, dt_s: float, disc: str, extra: dict[str, Any]) -> dict[str, Any]:
    from ..surrogate.layers import LI

    m: dict[str, Any] = {"neuroplastic_dt_s": float(dt_s), "neuroplastic_discretization": disc,
                         "neuroplastic_dtype": str(layer.decay.dtype).replace("torch.", "")}
    for key in _EXACT_KEYS:
        if hasattr(layer, key):
            m[f"neuroplastic_{key}"] = getattr(layer, key).detach().cpu().numpy().copy()
    if not isinstance(layer, LI):
        m["neuroplastic_reset_mode"] = "subtract" if layer.subtract else "hard"
        m["neuroplastic_surrogate_kind"] = layer.surrogate.kind
        m["neuroplastic_surrogate_slope"] = float(layer.surrogate.slope)
        m["neuroplastic_detach_reset"] = int(layer.detach_reset)
    m.update(extra)
    return m


def _lif_node(nir, layer, dt_s: float, disc: str):
    a, d = _np(layer.decay), _np(layer.drive)
    return nir.LIF(
        tau=_tau(a, dt_s, disc), r=d / (1.0 - a), v_leak=_np(layer.v_rest),
        v_threshold=_np(layer.threshold), v_reset=_np(layer.v_reset),
        metadata=_meta(layer, dt_s, disc, {}),
    )


def _cuba_node(nir, layer, dt_s: float, disc: str):
    if layer.decay_syn.shape[1] != 1:
        raise ValueError(
            f"NIR CubaLIF has one synaptic current; layer has {layer.decay_syn.shape[1]}"
        )
    a, ds = _np(layer.decay), _np(layer.decay_syn[:, 0])
    tau_mem, tau_syn = _tau(a, dt_s, disc), _tau(ds, dt_s, disc)
    r = _np(layer.drive[:, 0]) / _syn_gain(tau_syn, tau_mem, dt_s, disc)
    return nir.CubaLIF(
        tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=_np(layer.v_rest),
        v_threshold=_np(layer.threshold), v_reset=_np(layer.v_reset), w_in=np.ones_like(a),
        metadata=_meta(layer, dt_s, disc, {}),
    )


def _li_node(nir, layer, dt_s: float, disc: str):
    a, d = _np(layer.decay), _np(layer.drive)
    return nir.LI(tau=_tau(a, dt_s, disc), r=d / (1.0 - a), v_leak=_np(layer.v_rest),
                  metadata=_meta(layer, dt_s, disc, {}))


def _raw(t: Tensor) -> np.ndarray:
    """Weights keep their dtype (bit-exact round trip)."""
    return t.detach().cpu().numpy().copy()


def _affine(nir, lin: nn.Linear):
    w = _raw(lin.weight)
    if lin.bias is None:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=_raw(lin.bias))


# ----------------------------------------------------------------------------- export
def to_nir(
    model: nn.Module,
    *,
    input_shape: tuple[int, ...] | None = None,
    dt_ms: float | None = None,
    dt_s: float | None = None,
    discretization: Literal["exact", "euler"] = "exact",
):
    """Export a :class:`~neuroplastic.surrogate.Sequential` (or one layer) as a ``nir.NIRGraph``.

    Parameters
    ----------
    model
        ``Sequential`` of supported modules (see the module docstring), or a single one.
    input_shape
        Shape of one input sample without time and batch, e.g. ``(64,)`` or ``(2, 34, 34)``;
        inferred from the first ``Linear`` when omitted (required before a ``Conv2d``).
    dt_ms
        Our clock step (ms); default: the first neuron layer's ``dt_ms`` (1 ms if none).
    dt_s
        The step (s) the *importer* will use to discretise NIR's ODEs; default ``dt_ms / 1000``.
        Only the ratios ``dt / tau`` matter, so e.g. ``dt_s=1e-4`` with ``"euler"`` makes
        snnTorch (whose importer assumes 0.1 ms) rebuild our ``beta``.
    discretization
        ``"exact"`` (exponential integration) or ``"euler"``; see the module docstring.

    Returns
    -------
    nir.NIRGraph
        Nodes ``input``, ``0``, ``1``, ..., ``output`` chained in order (a ``RecurrentLIF`` is a
        nested graph).
    """
    nir = require_nir()
    from ..surrogate.layers import (
        LI,
        CubaLIFCell,
        LIFCell,
        RecurrentLIF,
        Sequential,
        TimeDistributed,
    )
    from ..surrogate.layers import LIF as _LIF

    check_choice("discretization", discretization, DISCRETIZATIONS)
    mods = list(model.layers) if isinstance(model, Sequential) else [model]
    if dt_ms is None:
        dts = [m.dt_ms for m in mods if hasattr(m, "dt_ms")]
        dt_ms = dts[0] if dts else 1.0
    check_positive("dt_ms", dt_ms)
    dt_s = dt_ms * 1e-3 if dt_s is None else check_positive("dt_s", dt_s)
    nodes: dict[str, Any] = {}
    shape = None if input_shape is None else tuple(int(s) for s in input_shape)
    for k, m in enumerate(mods):
        inner = m.module if isinstance(m, TimeDistributed) else m
        if isinstance(inner, nn.Linear):
            node = _affine(nir, inner)
            if shape is None:
                shape = (inner.in_features,)
        elif isinstance(inner, nn.Conv2d):
            if shape is None:
                raise ValueError("input_shape is needed to export a Conv2d (C, H, W)")
            if inner.padding_mode != "zeros":
                raise ValueError(f"Conv2d padding_mode must be 'zeros', got {inner.padding_mode}")
            # NIR infers the spatial shape from the graph's Input node.
            node = nir.Conv2d(
                input_shape=None, weight=_raw(inner.weight), stride=inner.stride,
                padding=inner.padding, dilation=inner.dilation, groups=inner.groups,
                bias=_raw(inner.bias) if inner.bias is not None
                else np.zeros(inner.out_channels, dtype=_raw(inner.weight).dtype),
            )
        elif isinstance(inner, nn.Flatten):
            if not isinstance(m, TimeDistributed) or inner.start_dim != 1:
                raise ValueError("export Flatten as TimeDistributed(nn.Flatten()) (start_dim=1)")
            node = nir.Flatten(input_type=None, start_dim=0, end_dim=inner.end_dim)
        elif isinstance(m, RecurrentLIF):
            lif = _lif_node(nir, m, dt_s, discretization)
            lif.metadata["neuroplastic_recurrent"] = 1
            node = nir.NIRGraph(
                nodes={"input": nir.Input(np.array([m.n])), "lif": lif,
                       "w_rec": nir.Linear(weight=_raw(m.recurrent.weight)),
                       "output": nir.Output(np.array([m.n]))},
                edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                type_check=False,
            )
        elif isinstance(m, CubaLIFCell):
            node = _cuba_node(nir, m, dt_s, discretization)
        elif isinstance(m, (_LIF, LIFCell)):
            node = _lif_node(nir, m, dt_s, discretization)
        elif isinstance(m, LI):
            node = _li_node(nir, m, dt_s, discretization)
        else:
            raise ValueError(f"cannot export module {type(m).__name__} to NIR")
        nodes[str(k)] = node
    if shape is None:
        raise ValueError("input_shape could not be inferred; pass input_shape=")
    names = [str(k) for k in range(len(mods))]
    out_shape = _output_shape(mods, shape)
    nodes = {"input": nir.Input(np.array(shape)), **nodes,
             "output": nir.Output(np.array(out_shape))}
    chain = ["input", *names, "output"]
    edges = list(zip(chain[:-1], chain[1:]))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _output_shape(mods: list[nn.Module], shape: tuple[int, ...]) -> tuple[int, ...]:
    with torch.no_grad():
        from ..surrogate.layers import Sequential

        x = torch.zeros(1, 1, *shape, dtype=torch.float64)
        dtype = next((b.dtype for m in mods for b in m.buffers()), torch.float32)
        dtype = next((p.dtype for m in mods for p in m.parameters()), dtype)
        y, _ = Sequential(*mods)(x.to(dtype))
    return tuple(y.shape[2:])


# ----------------------------------------------------------------------------- import
def _meta_get(node, key: str, default: Any = None) -> Any:
    v = (node.metadata or {}).get(f"neuroplastic_{key}", default)
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO" and v.ndim == 0:
        v = v.item()
        return v.decode("utf8") if isinstance(v, bytes) else v
    return v


def _coeffs(node, recomputed: dict[str, np.ndarray], dtype: torch.dtype) -> dict[str, Tensor]:
    """Exact metadata coefficients when present and consistent, else the recomputed ones."""
    out = {}
    for key, val in recomputed.items():
        exact = _meta_get(node, key)
        if exact is not None:
            e = np.asarray(exact, dtype=np.float64)
            if e.shape != val.shape or not np.allclose(e, val, rtol=1e-5, atol=1e-7):
                raise ValueError(
                    f"NIR node metadata neuroplastic_{key} disagrees with the node's fields"
                )
            out[key] = torch.as_tensor(np.asarray(exact)).to(dtype)
        else:
            out[key] = torch.as_tensor(val).to(dtype)
    return out


def _neuron_common(node):
    from ..surrogate import Surrogate

    reset = _meta_get(node, "reset_mode", "hard")
    sg = Surrogate(_meta_get(node, "surrogate_kind", "fast_sigmoid"),
                   float(_meta_get(node, "surrogate_slope", 25.0)))
    return reset, sg, bool(int(_meta_get(node, "detach_reset", 0)))


def _params_from(decay, drive_r, v_rest, thr, v_reset, dt_ms, reset, tau_syn_ms=(5.0,)):
    from ..neurons.lif import LIFParams

    # Representative (first-neuron) parameters; the per-neuron buffers are set exactly below.
    return LIFParams(
        tau_mem_ms=-dt_ms / math.log(float(decay[0])), v_rest_mv=float(v_rest[0]),
        v_reset_mv=float(v_reset[0]), v_thresh_mv=float(thr[0]), t_ref_ms=0.0,
        r_mohm=float(drive_r[0]), tau_syn_ms=tuple(tau_syn_ms), reset_mode=reset,
    )


def _set(layer: nn.Module, coef: dict[str, Tensor]) -> nn.Module:
    for key, val in coef.items():
        getattr(layer, key).data = val.reshape(getattr(layer, key).shape).clone()
    return layer


def _import_lif(node, dt_ms, dt_s, disc, dtype, *, recurrent_w=None):
    from ..surrogate import LIF, RecurrentLIF

    tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
    a = _decay(tau, dt_s, disc)
    r = np.asarray(node.r, dtype=np.float64).reshape(-1) * np.ones_like(a)
    rec = {"decay": a, "drive": r * (1.0 - a),
           "threshold": np.asarray(node.v_threshold, dtype=np.float64).reshape(-1),
           "v_rest": np.asarray(node.v_leak, dtype=np.float64).reshape(-1) * np.ones_like(a),
           "v_reset": np.asarray(node.v_reset, dtype=np.float64).reshape(-1)}
    reset, sg, detach = _neuron_common(node)
    if not 0.0 < a.min() <= a.max() < 1.0:
        raise ValueError(f"NIR LIF tau gives decay outside (0, 1) with dt_s={dt_s}")
    p = _params_from(a, r, rec["v_rest"], rec["threshold"], rec["v_reset"], dt_ms, reset)
    kw = dict(dt_ms=dt_ms, surrogate=sg, detach_reset=detach, dtype=dtype)
    if recurrent_w is not None:
        layer = RecurrentLIF(a.size, p, **kw)
        layer.recurrent.weight.data = torch.as_tensor(recurrent_w).to(dtype)
    else:
        layer = LIF(a.size, p, **kw)
    return _set(layer, _coeffs(node, rec, dtype))


def _import_cuba(node, dt_ms, dt_s, disc, dtype):
    from ..surrogate import CubaLIF

    tau_mem = np.asarray(node.tau_mem, dtype=np.float64).reshape(-1)
    tau_syn = np.asarray(node.tau_syn, dtype=np.float64).reshape(-1) * np.ones_like(tau_mem)
    a, ds = _decay(tau_mem, dt_s, disc), _decay(tau_syn, dt_s, disc)
    r = np.asarray(node.r, dtype=np.float64).reshape(-1) * np.ones_like(a)
    w_in = np.asarray(node.w_in, dtype=np.float64).reshape(-1) * np.ones_like(a)
    drive = r * w_in * _syn_gain(tau_syn, tau_mem, dt_s, disc)
    rec = {"decay": a, "drive": drive.reshape(-1, 1),
           "threshold": np.asarray(node.v_threshold, dtype=np.float64).reshape(-1),
           "v_rest": np.asarray(node.v_leak, dtype=np.float64).reshape(-1) * np.ones_like(a),
           "v_reset": np.asarray(node.v_reset, dtype=np.float64).reshape(-1),
           "decay_syn": ds.reshape(-1, 1)}
    reset, sg, detach = _neuron_common(node)
    p = _params_from(a, r, rec["v_rest"], rec["threshold"], rec["v_reset"], dt_ms, reset,
                     tau_syn_ms=(-dt_ms / math.log(float(ds[0])),))
    layer = CubaLIF(a.size, p, dt_ms=dt_ms, surrogate=sg, detach_reset=detach, dtype=dtype)
    return _set(layer, _coeffs(node, rec, dtype))


def _import_li(node, dt_ms, dt_s, disc, dtype):
    from ..surrogate import LI

    tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
    a = _decay(tau, dt_s, disc)
    r = np.asarray(node.r, dtype=np.float64).reshape(-1) * np.ones_like(a)
    rec = {"decay": a, "drive": r * (1.0 - a),
           "v_rest": np.asarray(node.v_leak, dtype=np.float64).reshape(-1) * np.ones_like(a)}
    layer = LI(a.size, dt_ms=dt_ms, dtype=dtype)
    return _set(layer, _coeffs(node, rec, dtype))


def _order(graph) -> list[str]:
    """Node names from ``input`` to ``output`` along a chain of edges."""
    nir = require_nir()
    nxt: dict[str, list[str]] = {}
    for a, b in graph.edges:
        nxt.setdefault(a, []).append(b)
    start = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(start) != 1:
        raise ValueError(f"graph must have exactly one Input node, got {start}")
    order, cur, seen = [], start[0], set()
    while True:
        seen.add(cur)
        succ = [s for s in nxt.get(cur, []) if s not in seen]
        if not succ:
            break
        if len(succ) > 1:
            raise ValueError(f"only chains are supported; node {cur!r} feeds {succ}")
        cur = succ[0]
        if not isinstance(graph.nodes[cur], nir.Output):
            order.append(cur)
    return order


def from_nir(
    graph,
    *,
    dt_ms: float | None = None,
    dt_s: float | None = None,
    discretization: Literal["exact", "euler"] | None = None,
    dtype: torch.dtype | None = None,
):
    """Build a :class:`~neuroplastic.surrogate.Sequential` from a chain-shaped ``nir.NIRGraph``.

    Parameters
    ----------
    graph
        A ``nir.NIRGraph`` (or a path, read with ``nir.read``).
    dt_ms
        Our clock step (ms); default 1.
    dt_s, discretization
        How to turn NIR time constants into per-step decays; default: the values the exporter
        recorded in the node metadata, else ``dt_ms / 1000`` and ``"exact"``.
    dtype
        Dtype of the layers; default: the exporter's (metadata), else torch's default.

    Returns
    -------
    Sequential
        Linear/Affine -> ``TimeDistributed(nn.Linear)``, Conv2d -> ``TimeDistributed(Conv2d)``,
        Flatten -> ``TimeDistributed(nn.Flatten)``, LIF -> ``LIF``, CubaLIF -> ``CubaLIF``,
        LI -> ``LI``, a recurrent ``LIF``/``Linear`` sub-graph -> ``RecurrentLIF``.
    """
    nir = require_nir()
    from ..surrogate import Sequential, TimeDistributed

    if isinstance(graph, (str, Path)):
        graph = nir.read(str(graph))
    if discretization is not None:
        check_choice("discretization", discretization, DISCRETIZATIONS)
    dt_ms = 1.0 if dt_ms is None else check_positive("dt_ms", dt_ms)
    mods: list[nn.Module] = []
    for name in _order(graph):
        node = graph.nodes[name]
        disc = discretization or _meta_get(node, "discretization", "exact")
        step = dt_s if dt_s is not None else float(_meta_get(node, "dt_s", dt_ms * 1e-3))
        dt_name = _meta_get(node, "dtype")
        dt_t = dtype or (getattr(torch, dt_name) if dt_name else torch.get_default_dtype())
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = torch.as_tensor(np.asarray(node.weight))
            has_b = isinstance(node, nir.Affine)
            lin = nn.Linear(w.shape[1], w.shape[0], bias=has_b, dtype=dtype or w.dtype)
            lin.weight.data = w.to(lin.weight.dtype)
            if has_b:
                lin.bias.data = torch.as_tensor(np.asarray(node.bias)).to(lin.weight.dtype)
            mods.append(TimeDistributed(lin))
        elif isinstance(node, nir.Conv2d):
            w = torch.as_tensor(np.asarray(node.weight))
            pad = node.padding if isinstance(node.padding, str) else tuple(node.padding)
            conv = nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]),
                             stride=tuple(node.stride), padding=pad,
                             dilation=tuple(node.dilation), groups=int(node.groups),
                             dtype=dtype or w.dtype)
            conv.weight.data = w.to(conv.weight.dtype)
            conv.bias.data = torch.as_tensor(np.asarray(node.bias)).to(conv.weight.dtype)
            mods.append(TimeDistributed(conv))
        elif isinstance(node, nir.Flatten):
            mods.append(TimeDistributed(nn.Flatten(int(node.start_dim) + 1, int(node.end_dim))))
        elif isinstance(node, nir.LIF):
            mods.append(_import_lif(node, dt_ms, step, disc, dt_t))
        elif isinstance(node, nir.CubaLIF):
            mods.append(_import_cuba(node, dt_ms, step, disc, dt_t))
        elif isinstance(node, nir.LI):
            mods.append(_import_li(node, dt_ms, step, disc, dt_t))
        elif isinstance(node, nir.NIRGraph):
            lifs = [v for v in node.nodes.values() if isinstance(v, nir.LIF)]
            recs = [v for v in node.nodes.values() if isinstance(v, (nir.Linear, nir.Affine))]
            if len(lifs) != 1 or len(recs) != 1:
                raise ValueError(f"sub-graph {name!r} is not a recurrent LIF (LIF + Linear)")
            lif = lifs[0]
            disc = discretization or _meta_get(lif, "discretization", "exact")
            step = dt_s if dt_s is not None else float(_meta_get(lif, "dt_s", dt_ms * 1e-3))
            dt_name = _meta_get(lif, "dtype")
            dt_t = dtype or (getattr(torch, dt_name) if dt_name else torch.get_default_dtype())
            mods.append(_import_lif(lif, dt_ms, step, disc, dt_t,
                                    recurrent_w=np.asarray(recs[0].weight)))
        else:
            raise ValueError(f"cannot import NIR node {name!r} of type {type(node).__name__}")
    if not mods:
        raise ValueError("graph has no nodes between input and output")
    return Sequential(*mods)


def write_nir(model: nn.Module, path: str | Path, **kwargs: Any) -> Path:
    """:func:`to_nir` then ``nir.write(path, graph)``; returns ``path``."""
    nir = require_nir()
    nir.write(str(path), to_nir(model, **kwargs))
    return Path(path)


def read_nir(path: str | Path, **kwargs: Any):
    """``nir.read(path)`` then :func:`from_nir`."""
    return from_nir(require_nir().read(str(path)), **kwargs)
