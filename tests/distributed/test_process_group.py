"""Process-group set-up rules that need no second process: backend choice, store prefix, interfaces."""
import pytest
import torch

from turboyolo.distributed.process_group import check_socket_ifname, resolve_backend, restart_prefix, route_interface


def test_backend_auto_follows_the_device():
    assert resolve_backend("auto", torch.device("cpu")) == "gloo"
    assert resolve_backend("auto", torch.device("cuda", 0)) == "nccl"
    assert resolve_backend("gloo", torch.device("cuda", 0)) == "gloo"
    with pytest.raises(RuntimeError, match="nccl needs CUDA"):
        resolve_backend("nccl", torch.device("cpu"))


def test_each_elastic_restart_gets_its_own_store_prefix(monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    first = restart_prefix()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert restart_prefix() != first and "2" in restart_prefix()


def test_unknown_gloo_interface_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "no-such-nic0")
    with pytest.raises(RuntimeError, match="no-such-nic0"):
        check_socket_ifname()


def test_interface_is_chosen_from_the_route_to_the_master(monkeypatch):
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    assert route_interface("127.0.0.1") == "lo"
    assert check_socket_ifname("127.0.0.1") is None  # loopback master: gloo's default is right
