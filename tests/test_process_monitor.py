"""ProcessMonitor against the machine's real cgroups (v1 on this project's machines, v2 in the
guest of make vm-test), a cgroup v2 tree laid out in a temp dir, real processes, and the fake
nvidia-smi."""

import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from rbee.hive.cgroups import (
    LEAF,
    CgroupTree,
    Limits,
    V1Tree,
    V2Tree,
    detect,
    make_inner,
    own_paths,
    parse_cpu_limit,
    parse_memory_limit,
)
from rbee.hive.monitor import ProcessMonitor, SpawnError

FAKE_SMI = str(Path(__file__).resolve().parents[1] / "fixtures" / "bin" / "nvidia-smi")
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)", "--model", "/models/tinyllama.gguf"]
BUSY = [sys.executable, "-c", "import time\nend = time.time() + 120\nwhile time.time() < end: pass"]
WRITER = [sys.executable, "-c",
          "import os, time\nf = open(os.devnull, 'wb')\nend = time.time() + 120\n"
          "while time.time() < end:\n    f.write(b'x' * 65536)\n    time.sleep(0.001)"]


def real_tree() -> CgroupTree:
    found = detect()
    if isinstance(found, str):
        pytest.fail(f"these tests need writable cgroups (run as root on Linux): {found}")
    unified = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    assert isinstance(found, V2Tree if unified else V1Tree), f"the machine has cgroup v{2 if unified else 1}"
    return found


def remove_under(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_dir():
            path.rmdir()
    root.rmdir()


@pytest.fixture
def tree():
    """A private parent under the real hierarchies, removed afterwards."""
    base = real_tree()
    parent = f"rbee-test-{uuid.uuid4().hex[:8]}"
    if isinstance(base, V2Tree):
        own = base.root.parent
        make_inner(own)  # this process moves into the leaf, so own may give controllers to children
        (own / parent).mkdir()
        yield V2Tree(own / parent)
        remove_under(own / parent)
        return
    assert isinstance(base, V1Tree)
    roots = {name: path.parent / parent for name, path in base.roots.items()}
    for root in roots.values():
        root.mkdir()
    yield V1Tree(roots)
    for root in roots.values():
        remove_under(root)


def limit_text(tree: CgroupTree, instance: str) -> dict[str, str]:
    """The instance's cpu and memory limits as the kernel shows them, in v2's words."""
    if isinstance(tree, V2Tree):
        directory = tree.root / "llm" / instance
        return {"cpu": (directory / "cpu.max").read_text().strip(),
                "memory": (directory / "memory.max").read_text().strip()}
    assert isinstance(tree, V1Tree)
    cpu = tree.roots["cpu"] / "llm" / instance
    quota = (cpu / "cpu.cfs_quota_us").read_text().strip()
    return {"cpu": f"{'max' if quota == '-1' else quota} {(cpu / 'cpu.cfs_period_us').read_text().strip()}",
            "memory": (tree.roots["memory"] / "llm" / instance / "memory.limit_in_bytes").read_text().strip()}


@pytest.fixture
def monitor(tree):
    mon = ProcessMonitor(tree, nvidia_smi=FAKE_SMI)
    spawned = []
    real_spawn = mon.spawn

    def spawn(*args, **kwargs):
        proc = real_spawn(*args, **kwargs)
        spawned.append((proc, args[0], args[1]))
        return proc

    mon.spawn = spawn  # type: ignore[method-assign]
    yield mon
    for proc, group, instance in spawned:
        proc.kill()
        proc.wait()
        mon.release(group, instance)


def stats_of(collection, instance):
    return next(s for s in collection.stats if s.instance == instance)


def sampled(monitor, instance, argv, limits, seconds):
    """Spawn *argv*, collect, wait *seconds*, collect again: the instance's stats over that span."""
    monitor.spawn("llm", instance, argv, limits)
    monitor.collect()
    time.sleep(seconds)
    return stats_of(monitor.collect(), instance)


@contextlib.contextmanager
def spawned(monitor, argv):
    """A worker ``llm/w1`` spawned by a monitor outside the fixture, killed and released afterwards."""
    proc = monitor.spawn("llm", "w1", argv, Limits())
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        monitor.release("llm", "w1")


def test_spawn_creates_cgroup(monitor, tree):
    proc = monitor.spawn("llm", "w1", SLEEPER, Limits())
    cgroup = tree.open("llm", "w1")
    for directory in cgroup.dirs():
        assert directory.is_dir()
    assert proc.pid in cgroup.pids()


def test_spawn_applies_cpu_limit(monitor, tree):
    monitor.spawn("llm", "w1", SLEEPER, Limits(cpu_quota_us=50_000, cpu_period_us=100_000))
    assert limit_text(tree, "w1")["cpu"] == "50000 100000"


def test_spawn_applies_memory_limit(monitor, tree):
    monitor.spawn("llm", "w1", SLEEPER, Limits(memory_bytes=parse_memory_limit("256M")))
    assert int(limit_text(tree, "w1")["memory"]) == 256 * 1024 * 1024


def test_spawn_returns_valid_pid(monitor):
    proc = monitor.spawn("llm", "w1", SLEEPER, Limits())
    assert psutil.pid_exists(proc.pid)
    assert psutil.Process(proc.pid).cmdline()[-2:] == ["--model", "/models/tinyllama.gguf"]


def test_collect_reads_cgroup_stats(monitor):
    stats = sampled(monitor, "busy", BUSY, Limits(), 0.5)
    assert stats.cpu_pct > 10, stats
    assert stats.rss_mb > 1
    assert stats.uptime_s > 0.4


def test_collect_queries_nvidia_smi(monitor, tmp_path, monkeypatch):
    proc = monitor.spawn("llm", "w1", SLEEPER, Limits())
    state = tmp_path / "smi.json"
    state.write_text(json.dumps({"mode": "two-gpus", "pids": {str(proc.pid): {"gpu": 0, "mb": 512}}}))
    monkeypatch.setenv("FAKE_NVIDIA_SMI_STATE", str(state))
    collection = monitor.collect()
    stats = stats_of(collection, "w1")
    assert collection.gpu_status == "ok"
    assert (stats.gpu_util_pct, stats.vram_mb, stats.total_vram_mb) == (37.0, 512.0, 24576.0)


def test_collect_parses_cmdline(monitor):
    monitor.spawn("llm", "w1", SLEEPER, Limits())
    assert stats_of(monitor.collect(), "w1").model == "tinyllama"


def test_collect_calculates_uptime(monitor):
    monitor.spawn("llm", "w1", SLEEPER, Limits())
    time.sleep(1.0)
    uptime = stats_of(monitor.collect(), "w1").uptime_s
    assert 0.9 <= uptime < 5


def test_collect_handles_missing_gpu(tree):
    monitor = ProcessMonitor(tree, nvidia_smi="/nonexistent/nvidia-smi")
    with spawned(monitor, SLEEPER):
        collection = monitor.collect()
        stats = stats_of(collection, "w1")
        assert "not found" in collection.gpu_status
        assert (stats.gpu_util_pct, stats.vram_mb, stats.total_vram_mb) == (0.0, 0.0, 0.0)


def test_collect_handles_hung_nvidia_smi(monitor, tmp_path, monkeypatch):
    monitor.spawn("llm", "w1", SLEEPER, Limits())
    state = tmp_path / "smi.json"
    state.write_text(json.dumps({"mode": "hang"}))
    monkeypatch.setenv("FAKE_NVIDIA_SMI_STATE", str(state))
    started = time.monotonic()
    collection = monitor.collect()
    assert time.monotonic() - started < 3
    assert "did not answer" in collection.gpu_status
    assert stats_of(collection, "w1").vram_mb == 0.0


def test_collect_handles_garbled_nvidia_smi(monitor, monkeypatch):
    monitor.spawn("llm", "w1", SLEEPER, Limits())
    monkeypatch.setenv("FAKE_NVIDIA_SMI_MODE", "garbage")
    collection = monitor.collect()
    assert "unusable" in collection.gpu_status
    assert len(collection.stats) == 1


def test_collect_handles_dead_process(monitor):
    dead = monitor.spawn("llm", "dead", SLEEPER, Limits())
    monitor.spawn("llm", "alive", SLEEPER, Limits())
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    collection = monitor.collect()
    assert [s.instance for s in collection.stats] == ["alive"]
    assert len(collection.skipped) == 1 and collection.skipped[0].startswith("llm/dead")


def test_enumerate_walks_cgroup_tree(monitor):
    pids = {name: monitor.spawn(group, name, SLEEPER, Limits()).pid
            for group, name in (("llm", "a"), ("llm", "b"), ("embed", "c"))}
    found = {(group, instance): found_pids for group, instance, found_pids in monitor.enumerate()}
    assert found == {("embed", "c"): [pids["c"]], ("llm", "a"): [pids["a"]], ("llm", "b"): [pids["b"]]}


def test_spawn_invalid_binary(monitor, tree):
    with pytest.raises(SpawnError, match="not found"):
        monitor.spawn("llm", "w1", ["/no/such/worker"], Limits())
    assert monitor.enumerate() == []


def test_spawn_invalid_cpu_limit():
    for bad in ("abc", "50000 100000 7", "10 100000", "50000 5"):
        with pytest.raises(ValueError, match="cpu limit"):
            parse_cpu_limit(bad)
    assert parse_cpu_limit("max") == (None, 100_000)
    with pytest.raises(ValueError, match="memory limit"):
        parse_memory_limit("lots")


def test_spawn_fallback_on_non_linux():
    monitor = ProcessMonitor.detect(platform="darwin")
    assert not monitor.cgroups_enabled
    assert "darwin" in monitor.reason
    proc = monitor.spawn("llm", "w1", SLEEPER, Limits(memory_bytes=parse_memory_limit("256M")))
    try:
        assert psutil.pid_exists(proc.pid)
        assert monitor.enumerate() == [("llm", "w1", [proc.pid])]
    finally:
        proc.kill()
        proc.wait()


def test_collect_fallback_on_non_linux():
    monitor = ProcessMonitor.detect(platform="darwin", nvidia_smi="/nonexistent/nvidia-smi")
    with spawned(monitor, SLEEPER) as proc:
        time.sleep(0.5)  # let the interpreter start, so its memory is there to be measured
        stats = stats_of(monitor.collect(), "w1")
        assert (stats.pid, stats.model) == (proc.pid, "tinyllama")
        assert stats.rss_mb > 1


def test_busy_worker_has_cpu_pct_above_zero(monitor):
    cpu = sampled(monitor, "busy", BUSY, Limits(cpu_quota_us=50_000), 1.0).cpu_pct
    assert 20 < cpu < 65, f"a busy loop under a 50% quota used {cpu}%"


def test_worker_doing_io_has_io_rates_above_zero(monitor):
    stats = sampled(monitor, "io", WRITER, Limits(), 0.5)
    assert stats.io_w_mb_s > 1, stats


def test_v2_tree_writes_cpu_max_and_memory_max(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    tree = V2Tree(tmp_path)
    cgroup = tree.create("llm", "w1", Limits(cpu_quota_us=50_000, memory_bytes=268435456))
    directory = tmp_path / "rbee.slice" / "llm" / "w1"
    assert (directory / "cpu.max").read_text() == "50000 100000\n"
    assert (directory / "memory.max").read_text() == "268435456\n"
    assert (tmp_path / "rbee.slice" / "cgroup.subtree_control").read_text() == "+cpu +memory\n"
    (directory / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (directory / "memory.events").write_text("low 0\noom 1\noom_kill 1\n")
    assert (cgroup.cpu_usage_ns(), cgroup.oom_kills()) == (1_500_000, 1)
    assert [(c.group, c.instance) for c in tree.walk()] == [("llm", "w1")]


def test_detect_prefers_v2_with_controllers(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    (tmp_path / "hive").mkdir()
    (tmp_path / "hive" / "cgroup.controllers").write_text("cpu memory\n")
    proc_cgroup = tmp_path / "proc-cgroup"
    proc_cgroup.write_text("0::/hive\n")
    found = detect(fs_root=tmp_path, proc_cgroup=proc_cgroup, platform="linux")
    assert isinstance(found, V2Tree) and found.root == tmp_path / "hive" / "rbee.slice"
    (tmp_path / "hive" / "cgroup.controllers").write_text("pids\n")
    assert "lacks cpu/memory" in detect(fs_root=tmp_path, proc_cgroup=proc_cgroup, platform="linux")


def test_own_paths_reads_v1_and_v2_lines(tmp_path):
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n")
    assert own_paths(proc_cgroup) == {"memory": "/docker/abc", "cpu": "/docker/abc",
                                      "cpuacct": "/docker/abc", "": "/"}


def test_spawned_process_is_in_the_cgroup_before_it_runs(monitor, tree):
    probe = [sys.executable, "-c", "print(open('/proc/self/cgroup').read())"]
    proc = monitor.spawn("llm", "probe", probe, Limits(), stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    v1 = isinstance(tree, V1Tree)
    directory = str(tree.roots["memory"] / "llm" / "probe" if isinstance(tree, V1Tree) else tree.root / "llm" / "probe")
    wanted = ":memory:" if v1 else "0::"
    assert any(line.split(":", 2)[2] and directory.endswith(line.split(":", 2)[2])
               for line in out.splitlines() if wanted in line), out


def test_detect_takes_the_parent_of_the_hive_leaf(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    (tmp_path / "hive" / LEAF).mkdir(parents=True)
    (tmp_path / "hive" / "cgroup.controllers").write_text("cpu memory\n")
    proc_cgroup = tmp_path / "proc-cgroup"
    proc_cgroup.write_text(f"0::/hive/{LEAF}\n")
    found = detect(fs_root=tmp_path, proc_cgroup=proc_cgroup, platform="linux")
    assert isinstance(found, V2Tree)
    assert found.root == tmp_path / "hive" / "rbee.slice"
