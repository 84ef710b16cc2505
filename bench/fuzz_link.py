"""The link decoder fuzz properties, run far longer than CI runs them.

tests/library/link/test_fuzz.py runs each property a hundred-odd times per CI run; this
runs them with many more examples (and a hypothesis database, so failures found once are
retried first next time) and prints how many inputs each property survived.

    .venv/bin/python bench/fuzz_link.py [--examples 20000] [--only frames]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402

from tests.library.link import test_fuzz as props  # noqa: E402


def _properties() -> dict[str, tuple[Callable[..., None], dict[str, Any]]]:
    cuts = st.lists(st.integers(0, 100_000), max_size=12)
    return {
        "arbitrary-bytes": (props.check_plain, {"data": st.binary(max_size=20_000), "cuts": cuts}),
        "valid-streams": (
            props.check_valid_stream,
            {"batch": st.lists(props.events, max_size=12), "cuts": cuts},
        ),
        "mutated-streams": (
            props.check_mutated,
            {
                "batch": st.lists(props.events, min_size=1, max_size=8),
                "flips": st.lists(
                    st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8
                ),
                "cut": st.integers(0, 10**6),
            },
        ),
        "frames": (
            props.check_frames,
            {
                "batch": st.lists(props.events, max_size=8),
                "garbage": st.binary(max_size=200),
                "cuts": cuts,
                "where": st.integers(0, 10**6),
            },
        ),
    }


def main() -> None:
    """Run each property with many examples and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="examples per property")
    parser.add_argument("--only", help="run one property (by name)")
    args = parser.parse_args()
    database = DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "fuzz_link"))
    failed = False
    for name, (check, strategies) in _properties().items():
        if args.only and name != args.only:
            continue
        counter = [0]

        def counted(check: Callable[..., None], counter: list[int]) -> Callable[..., None]:
            def run(**kwargs: Any) -> None:
                counter[0] += 1
                check(**kwargs)

            return run

        runner = settings(
            max_examples=args.examples,
            deadline=None,
            database=database,
            suppress_health_check=list(HealthCheck),
        )(given(**strategies)(counted(check, counter)))
        start = time.perf_counter()
        try:
            runner()
        except Exception as err:  # report and go on to the next property
            failed = True
            print(
                f"{name}: FAILED after {counter[0]} inputs: {type(err).__name__}: {err}", flush=True
            )
            continue
        print(
            f"{name}: {counter[0]} inputs, no failure ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
