"""Exercise checkers: each notebook's exercises get a student cell and a checker that says why.

In a notebook:

    from linattn_edu.exercises import nb05 as ex
    answer = ...            # the student's code
    ex.ex1(answer)          # shows "not attempted", "right: ..." or "wrong: ... (why)"

A checker returns a :class:`Feedback`; it is truthy only when the answer is right, so a solution cell
ends with ``assert ex.ex1(answer).ok``. Solution cells carry the cell tag ``solution``;
``python -m linattn_edu.exercises.student`` (``make student``) writes copies without them.

Helpers for checkers: :func:`is_stub`, :func:`not_attempted`, :func:`right`, :func:`wrong`,
:func:`close_to` (numeric comparison with a message that names the quantity and the ratio).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Feedback", "is_stub", "not_attempted", "right", "wrong", "close_to", "call_student"]


@dataclass(frozen=True)
class Feedback:
    """The verdict of a checker: ok is True (right), False (wrong) or None (not attempted yet)."""

    ok: object
    message: str

    def __bool__(self):
        return self.ok is True

    @property
    def status(self):
        return {True: "right", False: "wrong", None: "not attempted"}[self.ok]

    def __repr__(self):
        mark = {True: "\u2714 right", False: "\u2718 wrong", None: "\u2026 not attempted yet"}[self.ok]
        return f"{mark}: {self.message}"

    def _repr_html_(self):
        colour = {True: "#1a7f37", False: "#b42318", None: "#57606a"}[self.ok]
        mark = {True: "&#10004; right", False: "&#10008; wrong", None: "&hellip; not attempted yet"}[self.ok]
        import html

        return f'<div style="color:{colour};font-weight:600">{mark}: <span style="font-weight:400">{html.escape(self.message)}</span></div>'


def is_stub(*answers):
    """True when any answer is still the placeholder ``...`` (Ellipsis) or None."""
    return any(a is Ellipsis or a is None for a in answers)


def not_attempted(hint="replace the ... with your answer and run the cell again"):
    return Feedback(None, hint)


def right(message="well done"):
    return Feedback(True, message)


def wrong(message):
    return Feedback(False, message)


def call_student(fn, *args):
    """(np.asarray(fn(*args), float), None), or (None, a message naming the error) when the student's code raises."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn(*args), dtype=float), None
    except Exception as err:                     # the student's code: any error is feedback, not a crash
        return None, f"your function raised {type(err).__name__}: {err}"


def close_to(answer, expected, name="your answer", rtol=1e-6, atol=0.0, hints=()):
    """Compare a number or array with the expected one.

    ``hints`` is a sequence of (factor, explanation): when answer/expected is close to one of the factors,
    the explanation is the message (e.g. ``(2.0, "did you drop the 1/2 in the exponent?")``).
    """
    if is_stub(answer):
        return not_attempted()
    try:
        a = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return wrong(f"{name} should be a number or an array of numbers (got {type(answer).__name__})")
    e = np.asarray(expected, dtype=float)
    if a.shape != e.shape:
        return wrong(f"{name} has shape {a.shape}, expected {e.shape}")
    if not np.all(np.isfinite(a)):
        return wrong(f"{name} contains inf or NaN")
    if np.allclose(a, e, rtol=rtol, atol=atol):
        return right(f"{name} matches")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.median(a / e) if np.all(e != 0) else np.nan
    for factor, why in hints:
        if np.isfinite(ratio) and np.isclose(ratio, factor, rtol=1e-3):
            return wrong(f"{name} is {ratio:.4g} times the right value: {why}")
    if a.ndim == 0:
        return wrong(f"{name} = {float(a):.6g} is not right (off by a factor {ratio:.3g})" if np.isfinite(ratio)
                     else f"{name} = {float(a):.6g} is not right")
    worst = float(np.max(np.abs(a - e)))
    return wrong(f"{name} differs from the right answer by up to {worst:.3g}")


