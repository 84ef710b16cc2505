"""Two runs of bench/commands.py side by side, per voice group: the old recogniser and the
new, or one recogniser before and after a change.

    scripts/py314 run .venv314/bin/python bench/commands.py --corpus C --json old.json ...
    scripts/py314 run .venv314/bin/python bench/commands.py --corpus C --json new.json ...
    scripts/py314 run .venv314/bin/python bench/compare_commands.py old.json new.json \\
        [--names old new]

Each file is bench/commands.py's --json output ({"cases", "groups", "summary"}). Both
runs must be on the same corpus: the groups are matched by name, and a group only one
run has is shown with a dash for the other.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.commands import TOTAL_GROUP, GroupScore, total_score, worst_group  # noqa: E402


class RunError(ValueError):
    """A results file is not bench/commands.py's --json output."""


def load_run(path: Path) -> tuple[list[GroupScore], str]:
    """A run's voice groups and its summary line."""
    try:
        data = json.loads(path.read_text())
        scores = [GroupScore(**group) for group in data["groups"]]
        summary = str(data["summary"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunError(
            f"{path}: not bench/commands.py --json output ({type(err).__name__}: {err})"
        ) from err
    return scores, summary


def _cell(score: GroupScore | None) -> tuple[str, str]:
    if score is None:
        return "-", "-"
    percent = f" {100 * score.accuracy:5.1f} %" if score.commands else ""
    return (
        f"{score.commands_correct}/{score.commands}{percent}",
        f"{score.false_actions}/{score.overheard}",
    )


def side_by_side(
    runs: Sequence[tuple[str, list[GroupScore], str]],
) -> list[str]:
    """A row per voice group (commands correct, overheard acted on, for each run), each
    run's total and worst group, and each run's summary line."""
    by_name = [{s.group: s for s in scores} for _, scores, _ in runs]
    groups = sorted(set().union(*by_name))
    totals = [total_score(scores) for _, scores, _ in runs]
    rows = [[group, *(c for named in by_name for c in _cell(named.get(group)))] for group in groups]
    rows.append([TOTAL_GROUP, *(c for total in totals for c in _cell(total))])
    header = ["voice group"]
    for name, _, _ in runs:
        header += [f"{name}: commands", f"{name}: overheard acted on"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    for name, scores, summary in runs:
        worst = worst_group(scores)
        if worst is not None:
            lines.append(
                f"{name}: worst group {worst.group}: commands "
                f"{worst.commands_correct}/{worst.commands}"
            )
        lines.append(f"{name}: {summary}")
    return lines


def main() -> int:
    """Print the comparison; exit status 2 if a file is not a run's --json output."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN.json")
    parser.add_argument("--names", nargs="+", help="a column name per run (default: file)")
    args = parser.parse_args()
    names = args.names or [path.stem for path in args.runs]
    if len(names) != len(args.runs):
        parser.error(f"--names gives {len(names)} names for {len(args.runs)} runs")
    try:
        runs = [(name, *load_run(path)) for name, path in zip(names, args.runs, strict=True)]
    except RunError as err:
        print(f"compare_commands: {err}", file=sys.stderr)
        return 2
    print("\n".join(side_by_side(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
