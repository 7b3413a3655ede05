"""`make bench`: every benchmark, each reporting ratios against a baseline measured in the same run.

`python -m bench NAME...` runs only the named ones (module names: reconcile_writes, local_control_plane,
day2, registry, registry_operator, tls).
"""

from __future__ import annotations

import sys

from bench import day2, local_control_plane, reconcile_writes, registry, registry_operator, tls

BENCHMARKS = [reconcile_writes, local_control_plane, day2, registry, registry_operator, tls]


def main(names: list[str]) -> None:
    by_name = {b.__name__.rsplit(".", 1)[-1]: b for b in BENCHMARKS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(by_name)}")
    for benchmark in [by_name[n] for n in names] if names else BENCHMARKS:
        for line in benchmark.run():
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
