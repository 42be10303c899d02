"""Argument checks at the entry of every compiled kernel (C through ctypes, numba).

Compiled kernels index raw memory without bounds checks: the C kernels take bare pointers and
read every array with the element type and the shape of the first one; numba compiles without
``boundscheck``. An array of another dtype, shape or memory layout is therefore read or written
out of bounds (heap corruption), or silently misread. Every entry point declares its arguments
once, as a spec, and is called through :func:`checked`, which raises ``ValueError`` naming the
argument, the value and what is expected before any compiled code runs.

Spec of one argument: a string, or a function of the call's arguments (name -> value) that
returns the string for this call, or ``None`` when the argument is unused by it (an array
whose shape depends on a flag)::

    TYPE[DIMS] FLAGS CONSTRAINTS

``TYPE``
    ``int``, ``bool``, ``float`` (scalars; an ``int`` argument is also a dimension named after
    the argument, usable in later shapes), a numpy dtype (``f8``, ``i8``, ``u1``, ``b1``, ...;
    native byte order), or ``real``: ``float32`` or ``float64``, the same for every ``real``
    argument of the call.
``DIMS``
    Comma-separated: ``*`` (any size), an expression over integers and dimension names
    (``+ - * //``, parentheses), or ``>=EXPR`` (at least). A bare name seen for the first time
    binds that dimension; later uses must agree.
``FLAGS``
    ``out``: written in place (must be C-contiguous, aligned, writeable, and overlap no other
    array argument); ``optional``: ``None`` is allowed.
``CONSTRAINTS``
    ``>=EXPR``, ``>EXPR``, ``<=EXPR``, ``<EXPR``: on the scalar, or on every element of the array
    (index arrays: values the kernel uses as indices).

Arrays that are only read and not C-contiguous (or not aligned) are copied into a contiguous
array (exact); written arrays cannot be, and are refused.
"""

from __future__ import annotations

import ast
import functools
import inspect
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = ["KernelSpec", "checked"]

_REAL = (np.dtype(np.float32), np.dtype(np.float64))
_SCALARS = ("int", "bool", "float")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv}
_CMP = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_CMP_WORD = {">=": "at least", ">": "greater than", "<=": "at most", "<": "less than"}


def _eval(node: ast.AST, dims: Mapping[str, int]) -> int:
    """Value of a dimension expression (integers, bound names, + - * //)."""
    if isinstance(node, ast.Expression):
        return _eval(node.body, dims)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Name):
        return dims[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, dims), _eval(node.right, dims))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, dims)
    raise SyntaxError(f"unsupported dimension expression {ast.dump(node)}")


class _Dim(NamedTuple):
    text: str
    expr: ast.Expression | None  # None: any size
    at_least: bool
    binds: str | None  # a bare name: bound on first sight


class _Arg(NamedTuple):
    name: str
    kind: str  # "int" | "bool" | "float" | "array"
    dtype: str | np.dtype | None  # "real" or a numpy dtype (arrays)
    dims: tuple[_Dim, ...] | None
    out: bool
    optional: bool
    bounds: tuple[tuple[str, str, ast.Expression], ...]  # (op, text, expr)


def _expr(text: str) -> ast.Expression:
    return ast.parse(text.strip(), mode="eval")


@functools.lru_cache(maxsize=512)
def _parse(name: str, spec: str) -> _Arg:
    m = re.fullmatch(r"\s*(\w+)\s*(?:\[([^\]]*)\])?\s*(.*)", spec)
    if m is None:
        raise SyntaxError(f"bad kernel argument spec for {name}: {spec!r}")
    typ, dims_txt, rest = m.groups()
    dims = None
    if dims_txt is not None:
        parts = [p.strip() for p in dims_txt.split(",")] if dims_txt.strip() else []
        dl = []
        for p in parts:
            at_least = p.startswith(">=")
            body = p[2:].strip() if at_least else p
            if body == "*":
                dl.append(_Dim(p, None, False, None))
            else:
                binds = body if body.isidentifier() and not at_least else None
                dl.append(_Dim(p, _expr(body), at_least, binds))
        dims = tuple(dl)
    out = optional = False
    bounds = []
    for tok in rest.split():
        if tok == "out":
            out = True
        elif tok == "optional":
            optional = True
        else:
            cm = re.fullmatch(r"(>=|<=|>|<)(.+)", tok)
            if cm is None:
                raise SyntaxError(f"bad token {tok!r} in kernel argument spec for {name}")
            bounds.append((cm.group(1), cm.group(2), _expr(cm.group(2))))
    if typ in _SCALARS:
        if dims is not None or out:
            raise SyntaxError(f"scalar {name} cannot have a shape or be written")
        return _Arg(name, typ, None, None, False, optional, tuple(bounds))
    dtype = "real" if typ == "real" else np.dtype(typ)
    if dims is None:
        raise SyntaxError(f"array {name} needs a shape")
    return _Arg(name, "array", dtype, dims, out, optional, tuple(bounds))


def _shape_text(dims: tuple[_Dim, ...]) -> str:
    return "(" + ", ".join(d.text for d in dims) + ("," if len(dims) == 1 else "") + ")"


class KernelSpec:
    """The parsed argument specs of one kernel; :meth:`check` validates one call."""

    def __init__(self, kernel: str, spec: Mapping[str, str | Callable]) -> None:
        self.kernel = kernel
        self.names = tuple(spec)
        # parsed now (a spec error shows at import), or a function of the call's arguments
        self.args = tuple(s if callable(s) else _parse(n, s) for n, s in spec.items())

    def _fail(self, msg: str) -> ValueError:
        return ValueError(f"{self.kernel}: {msg}")

    def check(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``values`` (argument name -> value); returns them with read-only arrays
        made C-contiguous where needed. Raises ``ValueError`` naming the argument."""
        out = dict(values)
        dims: dict[str, int] = {}
        origin: dict[str, str] = {}  # dimension -> argument that fixed it
        real: tuple[np.dtype, str] | None = None
        written: list[tuple[str, np.ndarray]] = []
        arrays: list[tuple[str, np.ndarray]] = []
        for name, a in zip(self.names, self.args):
            if callable(a):
                text = a(values)
                if text is None:
                    continue
                a = _parse(name, text)
            v = values[a.name]
            if v is None and a.optional:
                continue
            if a.kind == "array":
                v = self._array(a, v, dims, origin, real)
                if a.dtype == "real" and real is None:
                    real = (v.dtype, a.name)
                out[a.name] = v
                arrays.append((a.name, v))
                if a.out:
                    written.append((a.name, v))
            else:
                self._scalar(a, v, dims, origin)
            for op, text, expr in a.bounds:
                self._bound(a, out[a.name], op, text, expr, dims, origin)
        self._no_overlap(written, arrays)
        return out

    # ---------------------------------------------------------------- pieces
    def _scalar(self, a: _Arg, v: Any, dims: dict, origin: dict) -> None:
        if a.kind == "int":
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise self._fail(f"{a.name} must be an integer, got {v!r} ({type(v).__name__})")
            dims[a.name] = int(v)
            origin[a.name] = a.name
        elif a.kind == "bool":
            if not isinstance(v, (bool, np.bool_, int, np.integer)) or int(v) not in (0, 1):
                raise self._fail(f"{a.name} must be a bool, got {v!r} ({type(v).__name__})")
        elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                     np.floating)):
            raise self._fail(f"{a.name} must be a real number, got {v!r} ({type(v).__name__})")

    def _array(self, a: _Arg, v: Any, dims: dict, origin: dict, real) -> np.ndarray:
        def want() -> str:
            if a.dtype != "real":
                return str(a.dtype)
            return "float32 or float64" if real is None else f"{real[0]} (the dtype of {real[1]})"

        if not isinstance(v, np.ndarray):
            raise self._fail(
                f"{a.name} must be a numpy array of {want()}, got {type(v).__name__}"
            )
        ok = (v.dtype in _REAL if real is None else v.dtype == real[0]) if a.dtype == "real" \
            else v.dtype == a.dtype
        if not ok or not v.dtype.isnative:
            raise self._fail(f"{a.name} must have dtype {want()}, got {v.dtype}")
        if v.ndim != len(a.dims):
            raise self._fail(
                f"{a.name} must have {len(a.dims)} dimension(s) {_shape_text(a.dims)}, got "
                f"shape {v.shape}"
            )
        for k, d in enumerate(a.dims):
            if d.expr is None:
                continue
            size = v.shape[k]
            if d.binds is not None and d.binds not in dims:
                dims[d.binds] = size
                origin[d.binds] = a.name
                continue
            try:
                expect = dims[d.binds] if d.binds is not None else _eval(d.expr, dims)
            except KeyError as e:  # a spec error, not the caller's
                raise SyntaxError(f"{self.kernel}: {a.name}: dimension {e} is not bound") from e
            if (size < expect) if d.at_least else (size != expect):
                used = sorted({n.id for n in ast.walk(d.expr) if isinstance(n, ast.Name)})
                fixed = ", ".join(
                    f"{n}={dims[n]}" + ("" if origin[n] == n else f" from {origin[n]}")
                    for n in used
                )
                raise self._fail(
                    f"{a.name} must have shape {_shape_text(a.dims)}, i.e. "
                    f"{'at least ' if d.at_least else ''}{expect} on axis {k}"
                    f"{f' ({fixed})' if fixed else ''}, got shape {v.shape}"
                )
        if not (v.flags.c_contiguous and v.flags.aligned):
            if a.out:
                raise self._fail(
                    f"{a.name} is written in place and must be C-contiguous and aligned, got "
                    f"strides {v.strides} for shape {v.shape}"
                )
            v = np.require(v, requirements=["C", "A"])  # an exact copy
        if a.out and not v.flags.writeable:
            raise self._fail(f"{a.name} is written in place but is a read-only array")
        return v

    def _bound(self, a, v, op, text, expr, dims, origin) -> None:
        limit = _eval(expr, dims)
        if a.kind == "array":
            if v.size == 0:
                return
            worst = v.min() if op in (">=", ">") else v.max()
            what = "values"
        else:
            worst, what = v, "value"
        if not _CMP[op](worst, limit):
            raise self._fail(
                f"{a.name} must have {what} {_CMP_WORD[op]} {text} = {limit}, got "
                f"{worst.item() if isinstance(worst, np.generic) else worst!r}"
            )

    def _no_overlap(self, written, arrays) -> None:
        """No written array may share memory with another array argument (the C kernels
        declare their pointers ``restrict``; numba assumes no aliasing either)."""
        seen = set()
        for name, w in written:
            seen.add(name)
            for other, v in arrays:
                if other not in seen and np.may_share_memory(w, v):
                    raise self._fail(f"{name} is written in place and overlaps {other} in memory")


class CheckedKernel:
    """A kernel called through its :class:`KernelSpec`; other attributes (``signatures``,
    ``py_func`` of a numba dispatcher) are the kernel's."""

    def __init__(self, fn: Callable, spec: KernelSpec) -> None:
        self.kernel = fn
        self.spec = spec
        self.__signature__ = sig = inspect.signature(getattr(fn, "py_func", fn))
        functools.update_wrapper(self, getattr(fn, "py_func", fn), updated=())
        self._params = tuple(sig.parameters)
        self._defaults = {k: p.default for k, p in sig.parameters.items()
                          if p.default is not inspect.Parameter.empty}
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)
               for p in sig.parameters.values()):
            raise SyntaxError(f"{spec.kernel}: only plain positional parameters are supported")
        unknown = [n for n in spec.names if n not in self._params]
        if unknown:
            raise SyntaxError(f"{spec.kernel}: spec names unknown arguments {unknown}")

    def __call__(self, *args, **kwargs):
        if len(args) > len(self._params):
            raise TypeError(f"{self.spec.kernel}() takes {len(self._params)} arguments, got "
                            f"{len(args)}")
        values = dict(zip(self._params, args))
        for k, v in kwargs.items():
            if k not in self._params or k in values:
                raise TypeError(f"{self.spec.kernel}() got an unexpected or repeated argument "
                                f"{k!r}")
            values[k] = v
        for k in self._params[len(args):]:
            if k not in values:
                if k not in self._defaults:
                    raise TypeError(f"{self.spec.kernel}() missing argument {k!r}")
                values[k] = self._defaults[k]
        values = self.spec.check(values)
        return self.kernel(*(values[k] for k in self._params))

    def __get__(self, obj, objtype=None):  # as a method: bind the instance
        return self if obj is None else functools.partial(self, obj)

    def __getattr__(self, name: str):
        return getattr(self.__dict__["kernel"], name)

    def __repr__(self) -> str:
        return f"<checked kernel {self.spec.kernel}>"


def checked(spec: Mapping[str, str | Callable], name: str | None = None):
    """Decorator: call ``fn`` (a numba dispatcher or a Python function) only after checking its
    arguments against ``spec`` (see the module docstring)."""

    def wrap(fn: Callable) -> CheckedKernel:
        py = getattr(fn, "py_func", fn)
        return CheckedKernel(fn, KernelSpec(name or py.__name__.lstrip("_"), spec))

    return wrap
