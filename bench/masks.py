"""Worst-case wildcard masks: what one hostile ban costs a join or a message.

A room operator can set any ban mask, and every join and every message from
a member who is not voiced is matched against every ban.  When masks were
regular expressions (``*`` as ``.*``), ``*a*a*a*a*a*a*a*a*a*a*b`` against a
user called ``aaaa...`` backtracked for minutes inside C.  This times
chatsvc's matcher (L{chatsvc.hub.masks.Wildcard}) on the attack's inputs and
others built to be slow, beside the old regular expressions for as many
stars as they finish in reasonable time::

    python -m bench.masks
    python -m bench.masks --stars 2,4,6 --budget 0.2
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from collections.abc import Callable, Sequence

from chatsvc.hub.masks import MAX_MASK_LENGTH, Wildcard, normalize_mask
from chatsvc.hub.names import MAX_NAME_LENGTH, fold

#: The attacker's user mask: the longest name and user, all ``a``.
VICTIM = fold("a" * MAX_NAME_LENGTH + "!" + "~" + "a" * 9 + "@" + "2001:db8::" + "a" * 4)


def old_regex(mask: str) -> re.Pattern[str]:
    """How masks were matched before: one regular expression each."""
    pattern = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char)
                      for char in fold(mask))
    return re.compile(pattern + r"\Z", re.DOTALL)


def per_call(function: Callable[[], object], budget: float) -> float:
    """Seconds per call of C{function}, called for about C{budget} seconds."""
    calls, started = 0, time.perf_counter()
    while True:
        function()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= budget:
            return elapsed / calls


def hostile_masks() -> list[tuple[str, str]]:
    """(description, mask) pairs built to make a matcher work hard.

    Each is short enough for the victim (a mask longer than the value it
    could match is refused at once), with as many stars as that allows.
    """
    pairs = len(VICTIM) // 2 - 1
    return [
        ("the attack, 10 stars", "*a*a*a*a*a*a*a*a*a*a*b"),
        (f"the attack, {pairs} stars", "*a" * pairs + "*b"),
        ("question marks and stars", "*" + "?*" * pairs + "b"),
        ("a literal almost there", "*" + "a" * (MAX_NAME_LENGTH - 1) + "b*"),
        ("at the length limit", "*a" * ((MAX_MASK_LENGTH - 5) // 2) + "*b"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.masks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--stars", default="2,4,6,8",
                        help="star counts for the old regex comparison (each run once)")
    parser.add_argument("--budget", type=float, default=0.5,
                        help="seconds to time each matcher case")
    parser.add_argument("--regex-limit", type=float, default=5.0,
                        help="skip larger star counts once one old regex match takes this long")
    options = parser.parse_args(argv)
    print(f"user mask matched: {VICTIM} ({len(VICTIM)} characters)")
    print(f"{'mask':<28} {'length':>6} {'matched':>8} {'µs per match':>13}")
    for what, mask in hostile_masks():
        full = normalize_mask(mask)
        pattern = Wildcard(fold(full))
        seconds = per_call(functools.partial(pattern.matches, VICTIM), options.budget)
        print(f"{what:<28} {len(full):>6} {str(pattern.matches(VICTIM)):>8} "
              f"{seconds * 1e6:>13.2f}")
    print()
    print("the same attack with n stars, chatsvc's matcher beside the old regular expressions:")
    print(f"{'stars':>5} {'chatsvc µs':>11} {'old regex ms':>13}")
    too_slow = False
    for stars in (int(n) for n in options.stars.split(",") if n):
        mask = normalize_mask("*a" * stars + "*b")
        pattern = Wildcard(fold(mask))
        ours = per_call(functools.partial(pattern.matches, VICTIM), options.budget)
        if too_slow:
            theirs = "skipped"
        else:
            regex = old_regex(mask)
            started = time.perf_counter()
            regex.match(VICTIM)
            elapsed = time.perf_counter() - started
            too_slow = elapsed > options.regex_limit
            theirs = f"{elapsed * 1e3:.1f}"
        print(f"{stars:>5} {ours * 1e6:>11.2f} {theirs:>13}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
