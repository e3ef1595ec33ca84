"""`python -m studio.training --config FILE [--out DIR] [--data DIR] [--resume]`, also under torchrun."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from studio.training.config import TrainConfig
from studio.training.run import run_training


def main() -> None:
    parser = argparse.ArgumentParser(prog="studio train")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--init", type=Path, help="a generator .onnx to start from")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run_training(
        TrainConfig.load(args.config),
        args.out,
        data=args.data,
        resume=args.resume,
        steps=args.steps,
        init=args.init,
    )


if __name__ == "__main__":
    main()
