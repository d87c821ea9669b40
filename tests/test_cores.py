"""The one CPU-share rule: affinity and container quota, split between a machine's processes."""
import pytest

from turboyolo import cores
from turboyolo.cores import cgroup_cpu_quota, threads_per_process, usable_cores, workers_per_process


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """An 8-core affinity mask and a cgroup folder without a quota; returns that folder."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr("os.cpu_count", lambda: 64)  # the machine: more than this process may use
    monkeypatch.setattr(cores, "CGROUP_ROOT", tmp_path)
    return tmp_path


def test_cores_come_from_the_affinity_not_the_machine(machine):
    assert usable_cores() == 8


def test_threads_split_the_cores_between_local_processes(machine):
    assert threads_per_process(3, 1) == 3
    assert threads_per_process(0, 1024) == 1
    assert threads_per_process(0, 4) == 2


def test_workers_capped_by_cores_per_local_rank(machine, monkeypatch):
    assert workers_per_process(16, 4) == 1  # 2 cores per rank, one kept for the rank itself
    assert workers_per_process(0, 4) == 0
    assert workers_per_process(3, 1) == 3
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert workers_per_process(2, 1) == 1


def test_a_container_cpu_quota_caps_the_cores(machine):
    (machine / "cpu.max").write_text("250000 100000\n")  # cgroup v2, docker --cpus=2.5
    assert cgroup_cpu_quota() == 2.5 and usable_cores() == 3
    (machine / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota() is None and usable_cores() == 8
    (machine / "cpu.max").unlink()
    (machine / "cpu").mkdir()
    (machine / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")  # cgroup v1
    (machine / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores() == 2 and threads_per_process(0, 2) == 1
    (machine / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cores() == 8
