"""Two "nodes" for real: two network namespaces joined by a veth pair, one torchrun in each,
c10d rendezvous over the private link, gloo bound to the veth. Needs root and `ip netns`."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.distributed.test_elastic_integration import STEPS, WORKER, uninterrupted_weights
from tests.distributed.toy import max_state_diff

HOST_ADDR, OTHER_ADDR = "10.77.0.1", "10.77.0.2"
RDZV_PORT = 29477  # namespaces start with no listeners: any port is free


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _netns_available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"typrobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "delete", probe)
        return True
    except (subprocess.CalledProcessError, OSError):
        return False


@pytest.fixture
def two_nodes():
    """(namespace, veth, address) for the rendezvous host and the other node; removed afterwards."""
    tag = os.getpid() % 100000
    nodes = [(f"tyhost{tag}", f"tyva{tag}", HOST_ADDR), (f"tyother{tag}", f"tyvb{tag}", OTHER_ADDR)]
    try:
        for ns, _, _ in nodes:
            _ip("netns", "add", ns)
        _ip("link", "add", nodes[0][1], "type", "veth", "peer", "name", nodes[1][1])
        for ns, veth, addr in nodes:
            _ip("link", "set", veth, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", veth)
            _ip("-n", ns, "link", "set", veth, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield nodes
    finally:
        for ns, _, _ in nodes:  # deleting a namespace also deletes its end of the veth pair
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def _run_on_two_nodes(nodes, tmp_path: Path, script_and_args) -> None:
    """One torchrun per namespace (1 process each, world size 2); script_and_args(out_dir) -> argv."""
    procs = []
    for is_host, (ns, veth, addr) in zip((True, False), nodes):
        out = tmp_path / ns
        out.mkdir()
        cmd = ["ip", "netns", "exec", ns, "env", f"GLOO_SOCKET_IFNAME={veth}", f"TURBOYOLO_CACHE={out / 'cache'}",
               sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
               "--rdzv_backend=c10d", f"--rdzv-endpoint={HOST_ADDR}:{RDZV_PORT}", "--rdzv-id=turboyolo-test",
               f"--rdzv-conf=is_host={str(is_host).lower()},join_timeout=90", f"--local-addr={addr}",
               *script_and_args(out)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=150)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, log in zip(procs, logs):
        assert proc.returncode == 0, log[-3000:]


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.skipif(not _netns_available(), reason="needs root and `ip netns`")
def test_two_nodes_in_network_namespaces_train_to_identical_weights(two_nodes, tmp_path):
    _run_on_two_nodes(two_nodes, tmp_path, lambda out: [str(WORKER), str(out), str(STEPS), ""])
    host = torch.load(tmp_path / two_nodes[0][0] / "final_rank0.pt", weights_only=True)["model"]
    other = torch.load(tmp_path / two_nodes[1][0] / "final_rank1.pt", weights_only=True)["model"]
    assert max_state_diff(host, other) == 0.0
    assert max_state_diff(host, uninterrupted_weights()) < 1e-5


@pytest.mark.dist
@pytest.mark.slow
@pytest.mark.skipif(not _netns_available(), reason="needs root and `ip netns`")
def test_two_nodes_run_the_real_trainer_for_two_epochs(two_nodes, tmp_path):
    trainer = Path(__file__).with_name("trainer_worker.py")
    keys = ["data=synthetic", "imgsz=64", "batch=8", "nbs=8", "workers=0", "fraction=0.125", "val=false",
            "plots=false", "sync_bn=true", "threads=1", "epochs=2", "cache=none"]
    # each node generates the synthetic set into its own cache, as separate machines would
    _run_on_two_nodes(two_nodes, tmp_path,
                      lambda out: [str(trainer), str(out), *keys, f"project={out / 'runs'}"])
    host = torch.load(tmp_path / two_nodes[0][0] / "weights_rank0.pt", weights_only=True)
    other = torch.load(tmp_path / two_nodes[1][0] / "weights_rank1.pt", weights_only=True)
    assert host["step"] == other["step"] == 2 * 4
    assert max_state_diff(host["model"], other["model"]) == 0.0  # sync_bn: BN statistics agree too
