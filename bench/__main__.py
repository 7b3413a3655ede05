"""`make bench`: every benchmark, each reporting ratios against a baseline measured in the same run."""

from __future__ import annotations

from bench import day2, local_control_plane, reconcile_writes, registry

BENCHMARKS = [reconcile_writes, local_control_plane, day2, registry]


def main() -> None:
    for benchmark in BENCHMARKS:
        for line in benchmark.run():
            print(line, flush=True)


if __name__ == "__main__":
    main()
