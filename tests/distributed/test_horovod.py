"""engine=horovod without Horovod installed is a clear error (test_horovod_integration.py runs horovodrun)."""
import importlib.util

import pytest

from turboyolo.config import build_config
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.factory import make_strategy

HAVE_HOROVOD = importlib.util.find_spec("horovod") is not None



@pytest.mark.skipif(HAVE_HOROVOD, reason="horovod is installed")
def test_missing_horovod_is_a_clear_error():
    with pytest.raises(RuntimeError, match="install_horovod.sh"):
        make_strategy(build_config({"engine": "horovod"}), DistEnv())
