"""Run every benchmark (each in its own process) and write bench/RESULTS.md with the
machine, the versions, the figures and each goal marked met or not.

Usage: .venv/bin/python bench/run_all.py   (about 15 minutes on 2 cores; never a test)
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("Target selection + guard at scale", "selection_scale.py", []),
    ("seed-001 greeter: aftershock run vs chaos run", "versus_chaostoolkit.py", ["--runs", "20"]),
    ("Recovery-time accuracy", "recovery_accuracy.py", ["--kills", "100"]),
    ("Fire-to-kill latency", "fire_to_kill.py", ["--kills", "100"]),
    ("Daemon at rest", "daemon_at_rest.py", []),
    ("Catalog load", "catalog_load.py", []),
    ("Page render at size", "pages_render.py", []),
]


def versions() -> list[str]:
    out = [f"Python {platform.python_version()}"]
    for dist in (
        "aftershock",
        "chaostoolkit",
        "chaostoolkit-lib",
        "chaostoolkit-kubernetes",
        "kubernetes",
        "apscheduler",
        "prometheus-client",
        "fastapi",
    ):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return out


def machine() -> str:
    memory = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({model}), {memory} MiB RAM"


def number(pattern: str, text: str) -> float | None:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def goals(outputs: dict[str, str]) -> list[tuple[str, str, str]]:
    """(goal, measured, verdict) rows."""
    rows = []
    recovery = number(r"recovery_seconds error: .*p99 ([\d.]+) ms", outputs["recovery_accuracy.py"])
    rows.append(("recovery error p99 <= 100 ms", f"{recovery} ms", verdict(recovery, 100)))
    fire = number(r"p99 ([\d.]+) ms, max", outputs["fire_to_kill.py"])
    rows.append(("fire-to-kill p99 <= 50 ms", f"{fire} ms", verdict(fire, 50)))
    rest = outputs["daemon_at_rest.py"]
    rss = [float(x) for x in re.findall(r"RSS (\d+) MB", rest)]
    rows.append(
        (
            "daemon at rest RSS <= 150 MB",
            ", ".join(f"{x:.0f} MB" for x in rss),
            verdict(max(rss) if rss else None, 150),
        )
    )
    api = [float(x) for x in re.findall(r"API (\d+) requests/min", rest)]
    same = bool(api) and max(api) <= min(api) * 1.15 + 2
    rows.append(
        (
            "idle API traffic independent of pod count",
            " vs ".join(f"{x:.0f}/min" for x in api),
            "met" if same else "NOT met",
        )
    )
    selection = outputs["selection_scale.py"]
    per_run = [float(x) for x in re.findall(r"([\d.]+) requests and", selection)]
    kib = [float(x) for x in re.findall(r"and ([\d.]+) KiB per run", selection)]
    flat = bool(per_run) and max(per_run) == min(per_run) and max(kib) <= min(kib) * 1.2
    rows.append(
        (
            "namespaced selection: requests/bytes per run flat with cluster size",
            f"{per_run} requests, {kib} KiB",
            "met" if flat else "NOT met",
        )
    )
    catalog = outputs["catalog_load.py"]
    cold = number(r"cold load \+ validate: median ([\d.]+) ms", catalog)
    reload = number(r"one file re-load: median ([\d.]+) ms", catalog)
    rows.append(("1,000-file catalog cold load <= 1 s", f"{cold} ms", verdict(cold, 1000)))
    rows.append(("one changed file reload <= 100 ms", f"{reload} ms", verdict(reload, 100)))
    pages = outputs["pages_render.py"]
    run_page = number(r"run page, 200 activities: median ([\d.]+) ms", pages)
    history = number(r"experiment page, 1000 runs, history page 1: median ([\d.]+) ms", pages)
    rows.append(("run page, 200 activities <= 100 ms", f"{run_page} ms", verdict(run_page, 100)))
    rows.append(("experiment page, 1,000 runs <= 100 ms", f"{history} ms", verdict(history, 100)))
    return rows


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "NOT measured"
    return "met" if value <= limit else "NOT met"


def main() -> None:
    outputs: dict[str, str] = {}
    durations: dict[str, float] = {}
    for title, script, arguments in BENCHES:
        print(f"== {title} ({script})", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, script, *arguments],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        )
        durations[script] = time.monotonic() - started
        lines = [
            line for line in done.stdout.splitlines() if not line.startswith("20") and line.strip()
        ]
        outputs[script] = "\n".join(lines)
        print(outputs[script] or done.stderr[-2000:], flush=True)
        if done.returncode != 0:
            outputs[script] += (
                f"\n(exit {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''})"
            )
    rows = goals(outputs)
    text = [
        "# Benchmark results",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/run_all.py`.",
        "",
        f"Machine: {machine()}",
        "",
        "Versions: " + ", ".join(versions()),
        "",
        "## Goals",
        "",
        "| goal | measured | verdict |",
        "|---|---|---|",
    ]
    text += [f"| {g} | {m} | {v} |" for g, m, v in rows]
    text += ["", "## Figures", ""]
    for title, script, arguments in BENCHES:
        text += [
            f"### {title}",
            "",
            f"`python bench/{script} {' '.join(arguments)}`".replace(" `", "`"),
            f"({durations[script]:.0f} s)",
            "",
            "```",
            outputs[script],
            "```",
            "",
        ]
    (HERE / "RESULTS.md").write_text("\n".join(text))
    print("\n".join(f"{v:>12}  {g}: {m}" for g, m, v in rows))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
