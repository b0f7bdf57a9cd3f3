"""CPU multi-process support: the process group is closed before a worker returns."""
import pytest

pytestmark = pytest.mark.detectron2


def test_close_process_group_destroys_the_group_and_is_a_no_op_without_one(tmp_path):
    import torch.distributed as dist

    from dld_d2.engine import close_process_group

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()
    close_process_group()  # single-process runs never had one
    assert not dist.is_initialized()
