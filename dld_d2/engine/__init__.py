"""Training pieces shared by train_net.py and the tools: optimizer, CPU multi-process support."""
from .optimizer import build_optimizer
from .ddp import close_process_group, cpu_ddp_support

__all__ = ["build_optimizer", "close_process_group", "cpu_ddp_support"]
