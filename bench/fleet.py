"""Fleet and overhead benchmarks for agentdeploy, one run, side by side, on the local AWS.

Prints three tables (markdown, ready for bench/RESULTS.md):
  1. a fleet of 8 small agents deployed sequentially (--jobs 1) and concurrently (--jobs 4,
     the default, and --jobs 8); target: concurrent <= 0.4x the sequential time;
  2. agentdeploy's own share of a deploy: everything but sam, pip, AWS calls/waits (and, shown
     apart, zipping the artifact, work sam deploy would otherwise do); target <= 2 %;
  3. the --dry-run time of each fixture agent (median of repeated runs); target <= 50 ms.

Run through bench/fleet.sh, which builds the release binary and sets up PATH.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "target" / "release" / "agentdeploy"
TOOLS = Path(os.environ.get("AGENTDEPLOY_TOOLS_DIR", Path.home() / ".cache" / "agentdeploy-tools"))
BUCKET = "bench-artifacts"
FLEET_SIZE = 8
DRY_RUN_REPEATS = 21

SMALL_AGENT = '''import six

NAME = {name!r}


def main(user_input_arg=None, input_data_arg=None):
    return {{"name": NAME, "six": six.__version__, "echo": user_input_arg}}
'''


def start_local_aws():
    emulator = subprocess.Popen(
        [str(TOOLS / "venv" / "bin" / "python"), str(REPO / "tests" / "emulator" / "local_aws.py"),
         "--bucket", BUCKET],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # It serves until its stdin closes: keep the pipe open for the whole run.
    ready, url = emulator.stdout.readline().split()
    if ready != "LOCAL_AWS_READY":
        sys.exit("the local AWS did not start")
    return emulator, url


def run(args, cwd, check=True):
    started = time.perf_counter()
    done = subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        sys.exit(f"agentdeploy {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done, elapsed


def fleet_project(root: Path, prefix: str) -> Path:
    root.mkdir(parents=True)
    lines = [f'[defaults]\ns3_bucket = "{BUCKET}"\nendpoint = "url"\n']
    for i in range(1, FLEET_SIZE + 1):
        name = f"{prefix}-{i}"
        (root / f"{name}.py").write_text(SMALL_AGENT.format(name=name))
        lines.append(f'[agents.{name}]\nagent = "{name}.py"\n')
    (root / "agentdeploy.toml").write_text("\n".join(lines))
    return root


def fleet_deploy(work: Path, prefix: str, jobs: int):
    project = fleet_project(work / prefix, prefix)
    done, elapsed = run(["lambda", "--all", "-q", "-o", "json", "--jobs", str(jobs)], project)
    reports = json.loads(done.stdout)["deployments"]
    bad = [r["function_name"] for r in reports if r["status"] != "deployed"]
    if bad:
        sys.exit(f"fleet members not deployed: {bad}")
    return elapsed, reports


def share_row(label, report):
    t = report["time_ms"]
    total = report["duration_ms"]
    own = t["agentdeploy"]
    return (f"| {label} | {total / 1000:.2f} | {t['sam'] / 1000:.2f} | {t['pip'] / 1000:.2f} | "
            f"{t['aws'] / 1000:.2f} | {t['zip'] / 1000:.2f} | {own / 1000:.3f} | "
            f"{100 * own / total:.2f} % | {100 * (own + t['zip']) / total:.2f} % |")


def dry_run_fixtures():
    fixtures = sorted(p for p in (REPO / "fixtures").glob("*.py"))
    fixtures += sorted(p / "agent.py" for p in (REPO / "fixtures").iterdir() if (p / "agent.py").is_file())
    return fixtures


def main():
    emulator, url = start_local_aws()
    os.environ.update({
        "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0",
    })
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            # Warm pip's own download cache so neither side pays for the network.
            fleet_deploy(work, "warm", 1)

            sequential, seq_reports = fleet_deploy(work, "seq", 1)
            jobs4, _ = fleet_deploy(work, "par4", 4)
            jobs8, _ = fleet_deploy(work, "par8", 8)

            seed = work / "seed"
            seed.mkdir()
            (seed / "agent.py").write_text((REPO / "fixtures" / "seed_agent.py").read_text())
            seed_args = ["lambda", "-q", "-o", "json", "--function-name", "seed", "--agent", "agent.py",
                         "--s3-bucket", BUCKET]
            first = json.loads(run(seed_args, seed)[0].stdout)
            with open(seed / "agent.py", "a") as agent:
                agent.write("# a code-only change\n")
            code_only = json.loads(run(seed_args, seed)[0].stdout)

            dry = []
            for fixture in dry_run_fixtures():
                args = ["lambda", "--dry-run", "-q", "-o", "json", "--function-name", "dry",
                        "--agent", str(fixture), "--out-dir", str(work / "dry-out")]
                code = run(args, work, check=False)[0].returncode
                times = [run(args, work, check=False)[1] for _ in range(DRY_RUN_REPEATS)]
                dry.append((fixture.relative_to(REPO), code, statistics.median(times) * 1000,
                            max(times) * 1000))
    finally:
        emulator.terminate()
        emulator.wait()

    cpus = os.cpu_count()
    print(f"Machine: {platform.machine()}, {cpus} cores, {platform.system()} {platform.release()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"Fleet of {FLEET_SIZE} small agents (each `import six`), first deploys on the local AWS:\n")
    print("| mode | seconds | vs sequential | target |")
    print("|---|---|---|---|")
    print(f"| sequential (--jobs 1) | {sequential:.1f} | 1.00x | |")
    print(f"| concurrent (--jobs 4, default) | {jobs4:.1f} | {jobs4 / sequential:.2f}x | <= 0.4x |")
    print(f"| concurrent (--jobs 8) | {jobs8:.1f} | {jobs8 / sequential:.2f}x | <= 0.4x |")
    print("\nagentdeploy's own time in a deploy (everything but sam, pip, AWS calls and waits; "
          "zipping shown apart):\n")
    print("| deploy | total s | sam s | pip s | AWS s | zip s | agentdeploy s | own share | "
          "own + zip share |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(share_row("seed agent, first deploy", first))
    print(share_row("seed agent, code-only change", code_only))
    mean = {k: statistics.mean(r["time_ms"][k] for r in seq_reports)
            for k in ("sam", "pip", "aws", "zip", "agentdeploy")}
    mean_report = {"time_ms": mean, "duration_ms": statistics.mean(r["duration_ms"] for r in seq_reports)}
    print(share_row(f"small agent (mean of {FLEET_SIZE}, sequential fleet)", mean_report))
    print(f"\n--dry-run of each fixture agent (median and max of {DRY_RUN_REPEATS} runs, "
          "process start to exit; target <= 50 ms):\n")
    print("| fixture | exit code | median ms | max ms |")
    print("|---|---|---|---|")
    for fixture, code, median, worst in dry:
        print(f"| {fixture} | {code} | {median:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()
