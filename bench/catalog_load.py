"""Cold load + validation of an N-file catalog, and the cost of re-reading one changed file.

Goals (issue: benchmarks): 1,000 files cold in <= 1 s; one changed file in <= 100 ms.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.catalog.checks import GlobalLimits
from daemon.catalog.loader import LoadOptions, load_catalog, load_file

TEMPLATE = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "config/experiments/greeter-kill.yaml").read_text()
)


def make_catalog(directory: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        data = copy.deepcopy(TEMPLATE)
        data["title"] = f"experiment {i}"
        data["extensions"][0]["schedule"]["cron"] = f"{i % 60} * * * *"
        path = directory / f"exp-{i:05d}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    options = LoadOptions(globals=GlobalLimits(prometheus_url="http://prom:9090"))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        paths = make_catalog(directory, args.files)
        size = sum(p.stat().st_size for p in paths)
        load_catalog([directory], options)  # warm imports (zoneinfo, promql, jsonpath)
        cold = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = load_catalog([directory], options)
            cold.append(time.perf_counter() - start)
            assert report.ok
            assert len(report.experiments) == args.files
        one = []
        for i in range(50):
            start = time.perf_counter()
            result = load_file(paths[i], options)
            one.append(time.perf_counter() - start)
            assert result.ok
        tracemalloc.start()
        load_catalog([directory], options)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"catalog: {args.files} files, {size / 1024:.0f} KiB")
    print(
        f"cold load + validate: median {statistics.median(cold) * 1000:.0f} ms, "
        f"min {min(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms ({args.repeat} runs)"
    )
    print(f"per file: {statistics.median(cold) / args.files * 1e6:.0f} us")
    print(
        f"one file re-load: median {statistics.median(one) * 1000:.2f} ms, "
        f"max {max(one) * 1000:.2f} ms"
    )
    print(f"peak traced memory during a load: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
