"""Input validation shared by both mirrors (backend-free: it never imports numpy or torch).

Every public function checks its arguments here, so that a wrong call fails at the function the
user typed, with a message that names the argument and the expected shape, instead of deep inside a
matmul. The helpers only read ``type(x)``, ``x.shape`` and ``x.dtype``.
"""
import math
import numbers
import operator

_BACKEND_NAMES = {"numpy": "NumPy arrays (use linattn_edu.numpy)", "torch": "torch tensors (use linattn_edu.torch)"}


def backend_of(x):
    """'numpy', 'torch' or None for anything else (lists, scalars, ...)."""
    mod = type(x).__module__
    if mod.startswith("numpy"):
        return "numpy"
    if mod.startswith("torch"):
        return "torch"
    return None


def _shape(x):
    return "(" + ", ".join(str(s) for s in tuple(x.shape)) + ")"


def check_array(name, x, backend, min_ndim=1, floating=True):
    """x must be an array of `backend` with at least `min_ndim` dims and a floating dtype."""
    got = backend_of(x)
    if got != backend:
        kind = type(x).__module__ + "." + type(x).__name__
        hint = ""
        if got is not None:
            hint = f"; {name} is a {got} array but this is the {backend} mirror: pass {_BACKEND_NAMES[backend]}, or convert"
        raise TypeError(f"{name} must be one of the {_BACKEND_NAMES[backend]} (got {kind}){hint}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions (got {name}: {_shape(x)})")
    if floating and not _is_floating(x, backend):
        raise TypeError(f"{name} must have a floating-point dtype (got {name}.dtype = {x.dtype}); "
                        f"convert it first, e.g. {name}.astype(float) or {name}.float()")


def _is_floating(x, backend):
    if backend == "numpy":
        return x.dtype.kind == "f"
    return bool(x.dtype.is_floating_point)


def check_qkv(q, k, v, backend):
    """q: (..., n_q, d), k: (..., n, d), v: (..., n, d_v), batch dims equal."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_array(name, x, backend, min_ndim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d (got q: {_shape(q)}, k: {_shape(k)})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same sequence length n (dim -2) "
                         f"(got k: {_shape(k)}, v: {_shape(v)})")
    if not (tuple(q.shape[:-2]) == tuple(k.shape[:-2]) == tuple(v.shape[:-2])):
        raise ValueError(f"q, k and v must have the same batch dimensions (...) "
                         f"(got q: {_shape(q)}, k: {_shape(k)}, v: {_shape(v)})")
    if q.dtype != k.dtype or k.dtype != v.dtype:
        raise TypeError(f"q, k and v must share one dtype (got {q.dtype}, {k.dtype}, {v.dtype})")
    if q.shape[-1] == 0:
        raise ValueError(f"q and k must have d >= 1 features in their last dimension (got q: {_shape(q)}, k: {_shape(k)})")


def check_causal_lengths(q, k):
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal attention needs as many queries as keys "
                         f"(got q: {_shape(q)}, k: {_shape(k)})")


def _is_bool(value):
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _as_int(value):
    """operator.index(value) for Python and NumPy integers (any width, signed or not); None for
    anything else (floats, strings, bools: True is not a chunk size)."""
    if _is_bool(value):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    as_int = _as_int(value)
    if as_int is None:
        raise TypeError(f"{name} must be an integer >= 1 (got {value!r})")
    if as_int < 1:
        raise ValueError(f"{name} must be >= 1 (got {name} = {value})")


def _is_real(value):
    return isinstance(value, numbers.Real) and not _is_bool(value)


def check_scale(scale):
    if scale is None:
        return
    if not _is_real(scale) or not 0 < scale < math.inf:
        raise ValueError(f"scale must be a positive finite number or None for 1/sqrt(d) (got scale = {scale!r})")


def check_eps(eps):
    """eps: a finite real number >= 0 (Python or NumPy scalar)."""
    if not _is_real(eps):
        raise TypeError(f"eps must be a finite number >= 0 (got eps = {eps!r}); use eps = 0.0 for the unbiased estimator")
    if not 0 <= eps < math.inf:
        raise ValueError(f"eps must be a finite number >= 0 (got eps = {eps!r}); use eps = 0.0 for the unbiased estimator")


def check_causal(causal):
    """causal: True or False (a string such as "no" is truthy and would silently mean True)."""
    if not _is_bool(causal):
        raise TypeError(f"causal must be True or False (got {causal!r})")


SEED_LIMIT = 2 ** 63


def check_seed(seed):
    """seed: None (fresh entropy) or an integer in [0, 2**63); the same rule in both mirrors. Returns an int or None."""
    if seed is None:
        return None
    as_int = _as_int(seed)
    if as_int is None or not 0 <= as_int < SEED_LIMIT:
        raise ValueError(f"seed must be None or an integer in [0, 2**63) (got seed = {seed!r})")
    return as_int


def check_phi(phi, registry):
    """phi: a callable x -> features, or the name of a deterministic feature map."""
    if isinstance(phi, str):
        if phi not in registry:
            raise ValueError(f"phi = {phi!r} is not a feature map name; use one of {sorted(registry)} "
                             f"or pass a callable (e.g. functools.partial(positive_features, w=w))")
        return registry[phi]
    if not callable(phi):
        raise TypeError(f"phi must be a callable x -> features or a feature map name (got {type(phi).__name__})")
    return phi


def check_features(phi_q, phi_k, q, k, backend):
    """The feature map must keep the leading dims and give q and k the same feature size m."""
    for name, f, x in (("phi(q)", phi_q, q), ("phi(k)", phi_k, k)):
        if backend_of(f) != backend or tuple(f.shape[:-1]) != tuple(x.shape[:-1]):
            shape = _shape(f) if hasattr(f, "shape") else type(f).__name__
            raise ValueError(f"phi must map (..., n, d) to (..., n, m) in the same backend "
                             f"(got {name}: {shape} from input {_shape(x)})")
    if phi_q.shape[-1] != phi_k.shape[-1]:
        raise ValueError(f"phi(q) and phi(k) must have the same feature size m "
                         f"(got phi(q): {_shape(phi_q)}, phi(k): {_shape(phi_k)})")
    for name, f, x in (("phi(q)", phi_q, q), ("phi(k)", phi_k, k)):
        if not _is_floating(f, backend):
            raise TypeError(f"phi must return floating-point features (got {name}.dtype = {f.dtype})")
        if backend == "torch" and f.dtype != x.dtype:    # NumPy promotes by itself; torch's matmuls refuse mixed dtypes
            raise TypeError(f"phi must return features in the dtype of its input (got {name}.dtype = {f.dtype} "
                            f"for input dtype {x.dtype}); cast inside phi, e.g. lambda x: my_phi(x).to(x.dtype)")


def check_state(state, batch_shape, m, d_v, backend):
    """state = (S, z) with S: (..., m, d_v), z: (..., m), or None."""
    if state is None:
        return
    if not (isinstance(state, (tuple, list)) and len(state) == 2):
        raise TypeError(f"state must be a tuple (S, z) with S: (..., m, d_v), z: (..., m) (got {type(state).__name__})")
    S, z = state
    check_array("state S", S, backend, min_ndim=2)
    check_array("state z", z, backend, min_ndim=1)
    want_S = tuple(batch_shape) + (m, d_v)
    want_z = tuple(batch_shape) + (m,)
    if tuple(S.shape) != want_S or tuple(z.shape) != want_z:
        raise ValueError(f"state (S, z) must have S: {want_S} and z: {want_z} for these inputs "
                         f"(got S: {_shape(S)}, z: {_shape(z)})")


def check_projection(name, w, d, backend):
    """w: (m, d) random projection whose rows are the w_i of the paper."""
    check_array(name, w, backend, min_ndim=2)
    if w.ndim != 2 or w.shape[-1] != d:
        raise ValueError(f"{name} must have shape (m, d) with d = {d}, the last dimension of x "
                         f"(got {name}: {_shape(w)})")
    if w.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row (m >= 1 random features) (got {name}: {_shape(w)})")


def check_same_device(**tensors):
    """All torch tensors on one device (named in the message)."""
    devices = {name: t.device for name, t in tensors.items() if backend_of(t) == "torch"}
    if len(set(devices.values())) > 1:
        listing = ", ".join(f"{name}: {dev}" for name, dev in devices.items())
        raise ValueError(f"all tensors must be on the same device (got {listing})")


def check_matrix_state(state, batch_shape, d_k, d_v, backend):
    """state: None or S of shape (..., d_k, d_v) (the unnormalised decay / delta-rule forms: no z)."""
    if state is None:
        return
    check_array("state", state, backend, min_ndim=2)
    want = tuple(batch_shape) + (d_k, d_v)
    if tuple(state.shape) != want:
        raise ValueError(f"state must be S with shape (..., d_k, d_v) = {want} for these inputs "
                         f"(got state: {_shape(state)})")


def check_gate(name, g, k, per_feature_ok, backend):
    """g: (..., n) (one value per token), or (..., n, d_k) when per-feature gates are allowed.
    Returns True for per-feature gates."""
    check_array(name, g, backend, min_ndim=1)
    scalar_shape, feature_shape = tuple(k.shape[:-1]), tuple(k.shape)
    if tuple(g.shape) == scalar_shape:
        return False
    if per_feature_ok and tuple(g.shape) == feature_shape:
        return True
    want = f"(..., n) = {scalar_shape}" + (f" or (..., n, d_k) = {feature_shape}" if per_feature_ok else "")
    raise ValueError(f"{name} must have shape {want}, one value per token (got {name}: {_shape(g)})")
