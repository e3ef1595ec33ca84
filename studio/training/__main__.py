"""`python -m studio.training --config FILE [--out DIR] [--data DIR | --data-a DIR --data-b DIR] [--resume]`,
also under torchrun (generators; a translator config runs in one process)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from studio.training.config import TrainConfig
from studio.training.run import run_training, stop_on_terminate


def main() -> None:
    parser = argparse.ArgumentParser(prog="studio train")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--init", type=Path, help="a generator or upscaler .onnx to start from")
    parser.add_argument("--data-a", type=Path, help="translator: pictures of the first domain")
    parser.add_argument("--data-b", type=Path, help="translator: pictures of the second domain")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    should_stop = stop_on_terminate()
    if json.loads(args.config.read_text()).get("kind") == "translator":
        from studio.training.translator import load_config, train_translator

        cfg = load_config(args.config, args.data_a, args.data_b)
        cfg.steps = args.steps if args.steps is not None else cfg.steps
        train_translator(
            cfg, args.out or Path("runs") / cfg.name, resume=args.resume, should_stop=should_stop
        )
        return
    run_training(
        TrainConfig.load(args.config),
        args.out,
        data=args.data,
        resume=args.resume,
        steps=args.steps,
        init=args.init,
        should_stop=should_stop,
    )


if __name__ == "__main__":
    main()
