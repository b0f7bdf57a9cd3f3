"""Training pieces shared by train_net.py and the tools: optimizer, CPU multi-process support,
and the hook that drives DLD's Gumbel temperature."""
from .ddp import close_process_group, cpu_ddp_support
from .optimizer import build_optimizer
from .temperature_hook import GumbelTemperatureHook, loader_dataset_size

__all__ = ["GumbelTemperatureHook", "build_optimizer", "close_process_group", "cpu_ddp_support",
           "loader_dataset_size"]
