#!/usr/bin/env python3
"""torch.distributed through the plugin: two ranks on one GPU that NCCL takes
for two hosts (own NCCL_HOSTID, SOFTROCE_HOST a/b over softroce), the NCCL
backend with NCCL_NET_PLUGIN=<abs path> and NCCL_NET=Spark (no fallback).
all_reduce and all_gather at several sizes, every element checked, and NCCL's
log must show our transport and table. Runs twice: NCCL_CUMEM_ENABLE=0 (what
vLLM sets) and NCCL's default.

Exit 0 pass, 77 skipped (no torch, no GPU), 1 fail.

  torch_check.py [--plugin PATH] [--logdir DIR] [--timeout S] [--cumem 0|default|both]
"""
import argparse
import os
import socket
import subprocess
import sys
import signal
import tempfile
import time

SIZES = [8, 4096, 1 << 20, 16 << 20]       # bytes of float32 per rank
SKIP = 77


def table_for(version):
    """The table NCCL picks from ours: its newest known (docs/nccl.md)."""
    if version >= (2, 30):
        return "v12"
    if version >= (2, 28):
        return "v11"
    if version >= (2, 26):
        return "v10"
    if version >= (2, 24):
        return "v9"
    return "v8" if version >= (2, 20) else "v7"


def rank_main(rank, port):
    import torch
    import torch.distributed as dist
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=2)
    bad = 0
    for size in SIZES:
        n = size // 4
        base = torch.arange(n, device="cuda", dtype=torch.float32).remainder_(251) + 1
        x = base * (rank + 1)
        dist.all_reduce(x)
        want = base * 3
        wrong = int((x != want).sum().item())
        parts = [torch.empty(n, device="cuda") for _ in range(2)]
        dist.all_gather(parts, base * (rank + 1))
        wrong_g = sum(int((parts[r] != base * (r + 1)).sum().item()) for r in range(2))
        print(f"rank {rank}: {size:>10} B  all_reduce wrong {wrong}  all_gather wrong {wrong_g}",
              flush=True)
        bad += wrong + wrong_g
    torch.cuda.synchronize()
    dist.destroy_process_group()
    return 0 if bad == 0 else 2


LIVE = []     # rank processes of the pair running now


def kill_live(*_):
    """Ranks never outlive us: on a deadline, or when we are terminated."""
    for p in LIVE:
        if p.poll() is None:
            p.kill()
    if _:
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_pair(args, cumem, logdir, fabric):
    port = free_port()
    plugin_dir = os.path.dirname(args.plugin)
    procs = []
    for rank, host in enumerate("ab"):
        env = dict(os.environ)
        env.update({
            "NCCL_HOSTID": f"spark-torch-{host}", "SOFTROCE_HOST": host,
            "SOFTROCE_FABRIC": fabric, "NCCL_NET_PLUGIN": args.plugin, "NCCL_NET": "Spark",
            "NCCL_DEBUG": "INFO", "NCCL_DEBUG_SUBSYS": "INIT,NET,ENV",
            "NCCL_DEBUG_FILE": os.path.join(logdir, f"nccl.{host}.log"),
            "LD_LIBRARY_PATH": os.path.join(plugin_dir, "softroce") + ":" +
                               os.environ.get("LD_LIBRARY_PATH", ""),
        })
        env.setdefault("NCCL_SOCKET_IFNAME", "lo")     # both "hosts" are this machine
        if cumem == "0":
            env["NCCL_CUMEM_ENABLE"] = "0"
        else:
            env.pop("NCCL_CUMEM_ENABLE", None)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--rank", str(rank), "--port", str(port)],
            env=env))
    LIVE.extend(procs)
    deadline = time.monotonic() + args.timeout     # one deadline for both ranks
    status = []
    for p in procs:
        try:
            status.append(p.wait(timeout=max(deadline - time.monotonic(), 0.1)))
        except subprocess.TimeoutExpired:
            print(f"# ranks still running after {args.timeout} s: killed")
            kill_live()
            status.append(-9)
    del LIVE[:]
    return status


def log_shows(logdir, needle):
    ok = True
    for host in "ab":
        path = os.path.join(logdir, f"nccl.{host}.log")
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        found = needle in text
        print(f"# host {host} log {'shows' if found else 'LACKS'}: {needle}")
        ok = ok and found
    return ok


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--plugin", default=os.path.normpath(
        os.path.join(here, "..", "..", "build", "libnccl-net-spark.so")))
    ap.add_argument("--logdir", default=None)
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--cumem", choices=["0", "default", "both"], default="both")
    ap.add_argument("--rank", type=int, default=-1)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    if args.rank >= 0:
        return rank_main(args.rank, args.port)
    signal.signal(signal.SIGTERM, kill_live)
    try:
        import torch
    except ImportError as e:
        print(f"SKIP torch_check: no torch ({e})")
        return SKIP
    if not torch.cuda.is_available():
        print("SKIP torch_check: no GPU (torch.cuda.is_available() is False)")
        return SKIP
    version = torch.cuda.nccl.version()
    table = table_for(tuple(version[:2]))
    print(f"# torch {torch.__version__}, NCCL {'.'.join(map(str, version))}: expect our {table}")
    args.plugin = os.path.abspath(args.plugin)
    base = args.logdir or tempfile.mkdtemp(prefix="torch-check.")
    ok = True
    for cumem in (["0", "default"] if args.cumem == "both" else [args.cumem]):
        logdir = os.path.join(base, f"cumem-{cumem}")
        fabric = os.path.join(logdir, "fabric")
        os.makedirs(fabric, exist_ok=True)
        status = run_pair(args, cumem, logdir, fabric)
        logs = log_shows(logdir, "via NET/Spark/") and \
            log_shows(logdir, "rocep1s0f0+roceP2p1s0f0") and \
            log_shows(logdir, f"Loaded net plugin Spark ({table})")
        good = status == [0, 0] and logs
        print(f"# torch_check NCCL_CUMEM_ENABLE={cumem}: {'PASS' if good else 'FAIL'} "
              f"(rank status {status}; logs in {logdir})")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
