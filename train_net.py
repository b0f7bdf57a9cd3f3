#!/usr/bin/env python
"""Train and evaluate dld_d2 models the Detectron2 way.

    python train_net.py --config-file configs/teacher.yaml --num-gpus 8
    python train_net.py --config-file configs/teacher.yaml --eval-only MODEL.WEIGHTS model.pth
    python train_net.py --config-file configs/synth/teacher_cpu.yaml --num-gpus 2 MODEL.DEVICE cpu
    python train_net.py --config-file configs/distill.yaml --num-gpus 8 \
        MODEL.DLD.TEACHER_WEIGHTS output/teacher/model_final.pth

Without CUDA, `--num-gpus N` starts N CPU processes that train together over gloo.
"""
import os
import sys

from detectron2.data import MetadataCatalog, build_detection_test_loader
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup, launch
from detectron2.evaluation import verify_results
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # run from a checkout, uninstalled
from dld_d2.checkpoint.checkpointer import TextSpotterCheckpointer  # noqa: E402
from dld_d2.config import get_cfg  # noqa: E402  (importing dld_d2 registers its components)
from dld_d2.data.build import build_text_train_loader  # noqa: E402
from dld_d2.data.dataset_mapper import TextSpottingDatasetMapper  # noqa: E402
from dld_d2.engine import (  # noqa: E402
    GumbelTemperatureHook,
    build_optimizer,
    close_process_group,
    cpu_ddp_support,
)
from dld_d2.evaluation.flops import FlopCountingModel  # noqa: E402


class Trainer(DefaultTrainer):
    """DefaultTrainer with text-spotting data, evaluation (optionally with GFLOPs), optimizer,
    checkpointer and, for DLD, the Gumbel temperature schedule; CPU DDP enabled."""

    def __init__(self, cfg):
        with cpu_ddp_support():
            super().__init__(cfg)

    def build_hooks(self):
        # dld_d2's checkpointer (safe loading, fit checks, atomic saves, DLD's teacher weights)
        # for --resume, the initial weights and the periodic saves; the hooks below hold it.
        self.checkpointer = TextSpotterCheckpointer(
            self.checkpointer.model, self.checkpointer.save_dir,
            teacher_weights=self.cfg.MODEL.DLD.TEACHER_WEIGHTS, **self.checkpointer.checkpointables
        )
        hooks = super().build_hooks()
        if self.cfg.MODEL.META_ARCHITECTURE == "DLDSpotter":
            hooks.insert(0, GumbelTemperatureHook.from_config(self.cfg))
        return hooks

    @classmethod
    def build_train_loader(cls, cfg):
        return build_text_train_loader(cfg, TextSpottingDatasetMapper(cfg, True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_detection_test_loader(
            cfg, dataset_name, mapper=TextSpottingDatasetMapper(cfg, False)
        )

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        from dld_d2.evaluation.text_evaluator import TextSpottingEvaluator

        evaluator_type = MetadataCatalog.get(dataset_name).evaluator_type
        if evaluator_type != "text_spotting":
            raise NotImplementedError(
                f"no evaluator for dataset {dataset_name!r} with evaluator_type {evaluator_type!r}"
            )
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return TextSpottingEvaluator.from_config(cfg, dataset_name, output_folder)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        # TEST.TEXT.COUNT_FLOPS: each output also carries its fvcore GFLOPs (mean_gflops).
        if cfg.TEST.TEXT.COUNT_FLOPS:
            model = FlopCountingModel(model)
        return super().test(cfg, model, evaluators)


def setup(args):
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    # dld_d2's own messages (skipped annotations, checkpoint parts, …) in the console and log.txt.
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="dld_d2")
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        TextSpotterCheckpointer(model, save_dir=cfg.OUTPUT_DIR, require="complete").resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        res = Trainer.test(cfg, model)
        verify_results(cfg, res)
    else:
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        res = trainer.train()
    # Multi-process runs: before exit, or a finished rank may abort there. Not on an error path,
    # where a collective destroy could hang and hide the exception.
    close_process_group()
    return res


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    print("Command Line Args:", args)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
