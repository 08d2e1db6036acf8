"""Benchmark of the billing kernel: classify + rate, in CDRs per second on one core.

    .venv/bin/python -m bench.bench_kernel [--n 1000000] [--batch-n 200000] [--seed 42]

Synthetic CDRs (a realistic mix of classes and of ways of writing numbers,
20 % unanswered) are generated in chunks; only the kernel loop over each chunk
is timed, so generation and memory for the data do not count against the
kernel. Stages:

* ``classify``   — NumberingPlan.classify(dialled, own DIDs)
* ``kernel``     — classify + plan version at the call start + rate lookup
                   + rate_call (billing.rating.call_rater): the target,
                   >= 300,000 CDRs/s
* ``batch``      — the whole ``clickphone rate`` pipeline on Master.csv text:
                   CSV parse, CDR validation, classify, rate, CSV output

Prints a table and saves JSON to ``bench/results/kernel.json``. Peak RSS is
the process's ``ru_maxrss``. The process is pinned to one CPU when possible.
"""

from __future__ import annotations

from bench._report import run_facts, save_json

import argparse
import io
import os
import platform
import random
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from billing.batch import rate_cdr_file
from billing.money import format_micro
from billing.numbering import default_numbering_plan
from billing.rating import call_rater
from billing.tariffs import default_tariff

RESULTS = Path(__file__).parent / "results" / "kernel.json"
TARGET_PER_SECOND = 300_000
MONTH_START = datetime(2025, 8, 1, tzinfo=timezone.utc)
OWN_DIDS = frozenset(f"4031{n:07d}" for n in range(0, 2000))

# Share of CDRs by destination, and how national numbers are written.
CLASS_MIX = (
    ("ro_fixed", 0.30),
    ("ro_mobile", 0.38),
    ("on_net", 0.10),
    ("international", 0.12),
    ("toll_free", 0.03),
    ("emergency_social", 0.01),
    ("short_code", 0.02),
    ("premium", 0.02),
    ("invalid", 0.02),
)
NATIONAL_FORMS = (
    ("0{}", 0.50),
    ("+40{}", 0.25),
    ("0040{}", 0.10),
    ("+40 {} {} {}", 0.10),
    ("0{}-{}-{}", 0.05),
)
INTERNATIONAL_PREFIXES = ("4930", "4917", "331", "336", "447", "3912", "3620", "3736", "1202", "1242", "8610", "9053")


def _national(rng: random.Random, nsn: str) -> str:
    form = rng.choices([f for f, _ in NATIONAL_FORMS], [w for _, w in NATIONAL_FORMS])[0]
    if form.count("{}") == 3:
        return form.format(nsn[:3], nsn[3:6], nsn[6:])
    return form.format(nsn)


def synthetic_cdrs(rng: random.Random, n: int, start_index: int = 0):
    """Return ``n`` synthetic CDRs as ``(dialled, billsec, answered, start)``."""
    classes = rng.choices([c for c, _ in CLASS_MIX], [w for _, w in CLASS_MIX], k=n)
    own = sorted(OWN_DIDS)
    cdrs = []
    for i, cls in enumerate(classes):
        if cls == "ro_fixed":
            dialled = _national(rng, rng.choice("23") + f"{rng.randrange(10**8):08d}")
        elif cls == "ro_mobile":
            dialled = _national(rng, "7" + f"{rng.randrange(20_000_000, 99_999_999):08d}")
        elif cls == "on_net":
            dialled = _national(rng, rng.choice(own)[2:])
        elif cls == "international":
            dialled = "+" + rng.choice(INTERNATIONAL_PREFIXES) + f"{rng.randrange(10**7):07d}"
            if rng.random() < 0.4:
                dialled = "00" + dialled[1:]
        elif cls == "toll_free":
            dialled = "0800" + f"{rng.randrange(10**6):06d}"
        elif cls == "emergency_social":
            dialled = rng.choice(("112", "116111", "116000"))
        elif cls == "short_code":
            dialled = rng.choice(("1234", "1930", "118932"))
        elif cls == "premium":
            dialled = "0900" + f"{rng.randrange(10**6):06d}"
        else:
            dialled = rng.choice(("0812345678", "abc", "+999123456", "021234", ""))
        answered = rng.random() >= 0.20
        billsec = int(rng.expovariate(1 / 150)) + 1 if answered else 0
        start = MONTH_START + timedelta(seconds=(start_index + i) * 2)
        cdrs.append((dialled, billsec, answered, start))
    return cdrs


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_stage(name: str, n: int, chunk: int, seed: int, body) -> dict:
    """Time ``body(chunk_of_cdrs)`` over ``n`` CDRs generated in chunks."""
    rng = random.Random(seed)
    elapsed = 0.0
    done = 0
    while done < n:
        size = min(chunk, n - done)
        cdrs = synthetic_cdrs(rng, size, done)
        elapsed += body(cdrs)
        done += size
    return {
        "peak_rss_mib_after": round(_peak_rss_mib(), 1),
        "stage": name,
        "cdrs": n,
        "seconds": round(elapsed, 3),
        "cdrs_per_second": round(n / elapsed),
        "microseconds_per_cdr": round(elapsed / n * 1e6, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="CDRs for classify and kernel")
    parser.add_argument("--batch-n", type=int, default=200_000, help="CDRs for the batch pipeline")
    parser.add_argument("--chunk", type=int, default=100_000, help="CDRs generated per chunk")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _ = parser.parse_known_args(argv)  # `make bench` passes its args to every benchmark

    cpu = None
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})

    numbering = default_numbering_plan()
    tariff = default_tariff()
    classify = numbering.classify
    rate = call_rater(tariff, OWN_DIDS, numbering)
    sink = {"cost_micro": 0, "unratable": 0, "classes": {}}

    def classify_body(cdrs) -> float:
        counts = sink["classes"]
        t0 = time.perf_counter()
        for dialled, _billsec, _answered, _start in cdrs:
            c = classify(dialled, OWN_DIDS)
            counts[c.number_class] = counts.get(c.number_class, 0) + 1
        return time.perf_counter() - t0

    def kernel_body(cdrs) -> float:
        total = unratable = 0
        t0 = time.perf_counter()
        for dialled, billsec, answered, start in cdrs:
            rated = rate(dialled, billsec, answered, start)
            if rated is None:
                unratable += 1
            else:
                total += rated.cost_micro
        elapsed = time.perf_counter() - t0
        sink["cost_micro"] += total
        sink["unratable"] += unratable
        return elapsed

    def batch_body(cdrs) -> float:
        lines = [_master_line(i, c) for i, c in enumerate(cdrs)]
        out = io.StringIO()
        t0 = time.perf_counter()
        rate_cdr_file(lines, tariff, out, "csv", on_net=OWN_DIDS, numbering=numbering)
        return time.perf_counter() - t0

    rss_before = _peak_rss_mib()
    load_before = os.getloadavg()
    stages = [
        bench_stage("classify", args.n, args.chunk, args.seed, classify_body),
        bench_stage("kernel (classify+rate)", args.n, args.chunk, args.seed, kernel_body),
    ]
    if args.batch_n > 0:
        stages.append(bench_stage("batch (parse+rate+write)", args.batch_n, args.chunk, args.seed, batch_body))
    kernel_rate = stages[1]["cdrs_per_second"]
    result = {
        **run_facts("billing kernel", load_before),
        "implementation": platform.python_implementation(),
        "pinned_cpu": cpu,
        "stages": stages,
        "target_cdrs_per_second": TARGET_PER_SECOND,
        "kernel_meets_target": kernel_rate >= TARGET_PER_SECOND,
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "rss_before_stages_mib": round(rss_before, 1),
        "check": {
            "kernel_total_cost_eur": format_micro(sink["cost_micro"]),
            "kernel_unratable": sink["unratable"],
            "classes": dict(sorted(sink["classes"].items())),
        },
    }
    _print_table(result)
    save_json(args.out, result)
    print(f"saved {args.out}")
    return 0


def _master_line(i: int, cdr) -> str:
    dialled, billsec, answered, start = cdr
    begin = start.strftime("%Y-%m-%d %H:%M:%S")
    answer = (start + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S") if answered else ""
    end = (start + timedelta(seconds=3 + billsec)).strftime("%Y-%m-%d %H:%M:%S")
    fields = (
        "acct", "1001", dialled, "from-internal", '"Sub" <1001>', "PJSIP/1001-1", "PJSIP/trunk-2",
        "Dial", f"PJSIP/{dialled}@trunk,60", begin, answer, end, str(billsec + 3), str(billsec),
        "ANSWERED" if answered else "NO ANSWER", "DOCUMENTATION", f"1754006400.{i}", "", "",
        f"1754006400.{i}", str(i),
    )  # fmt: skip
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields) + "\n"




def _print_table(result: dict) -> None:
    print(f"billing kernel benchmark — Python {result['python']}, {result['cpu']}, one core")
    print(f"{'stage':28} {'CDRs':>10} {'seconds':>9} {'CDRs/s':>11} {'µs/CDR':>8}")
    for s in result["stages"]:
        print(
            f"{s['stage']:28} {s['cdrs']:>10,} {s['seconds']:>9.3f} "
            f"{s['cdrs_per_second']:>11,} {s['microseconds_per_cdr']:>8.3f}"
        )
    verdict = "meets" if result["kernel_meets_target"] else "DOES NOT meet"
    print(f"kernel {verdict} the target of {result['target_cdrs_per_second']:,} CDRs/s")
    print(f"peak RSS {result['peak_rss_mib']} MiB (before the stages: {result['rss_before_stages_mib']} MiB)")


if __name__ == "__main__":
    sys.exit(main())
