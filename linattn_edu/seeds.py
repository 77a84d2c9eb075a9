"""One place for the notebooks' seeds.

Every notebook cell that draws random numbers makes its own generator from a *stream name*:

    from linattn_edu.seeds import rng, seed
    g = rng("section-2")                    # np.random.Generator, fresh in every cell
    w = lnp.gaussian_projection(64, 16, seed=seed("section-2/w"))

so a student who re-runs one cell gets the same draws, and no cell depends on the draws of an earlier
one. The base seed comes from the environment variable ``LINATTN_SEED`` (default 0): CI runs every
notebook once more with base seed 1 (the course site's build, ``tests/test_book.py``), ``make test-seeds``
runs five (``tests/test_notebook_seeds_a.py`` / ``_b.py``), so an assert that holds only for one seed fails there.

Backend-free: imports numpy only (the generator); ``seed`` returns a plain int for torch.manual_seed.
"""

import os
import zlib

import numpy as np

__all__ = ["base_seed", "seed", "rng"]

ENV = "LINATTN_SEED"


def base_seed():
    """The base seed: int(os.environ["LINATTN_SEED"]), default 0 (a non-negative integer)."""
    raw = os.environ.get(ENV, "0")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a non-negative integer (got {raw!r})") from None
    if value < 0:
        raise ValueError(f"{ENV} must be a non-negative integer (got {value})")
    return value


def _stream_key(stream):
    if isinstance(stream, str):
        return zlib.crc32(stream.encode("utf-8"))     # stable across runs and machines (unlike hash())
    if isinstance(stream, (int, np.integer)) and not isinstance(stream, bool) and stream >= 0:
        return int(stream)
    raise TypeError(f"stream must be a str or a non-negative int (got {stream!r})")


def seed(stream=""):
    """An int in [0, 2**31) derived from (base seed, stream): for ``seed=`` arguments and torch.manual_seed."""
    ss = np.random.SeedSequence([base_seed(), _stream_key(stream)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)


def rng(stream=""):
    """A fresh ``np.random.Generator`` for (base seed, stream): same stream and base seed, same draws."""
    return np.random.default_rng(np.random.SeedSequence([base_seed(), _stream_key(stream)]))
