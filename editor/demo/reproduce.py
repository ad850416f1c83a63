"""Reproduce a shipped embedded model from scratch with `editor.demo.train`, stage by stage.

    python -m editor.demo.reproduce photos              # demo-photo: runs/reproduce-photos/...
    python -m editor.demo.reproduce shapes --dry-run    # print the commands only
    python -m editor.demo.reproduce shapes --install    # then copy the result into the package

Each recipe is the list of `train` commands, in order. A stage that starts from the one
before passes `--resume` with either that stage's model folder (its weights, a fresh
optimizer, and `--steps` more UNet steps) or its run folder (the same run continued exactly,
its cosine schedule stretched to the step `--steps` names). Running a recipe again skips the
stages that finished; a stage that was stopped starts over (or continue it by hand:
`--resume` its own run folder, with `--steps` as the UNet step it should end at).

The photo recipe is how `demo-photo` was made, with two differences its model card lists:
the refit stage was first planned to end at 40,000 UNet steps and stretched to 44,000 at
34,000, and its first 2,000 UNet steps ran on one thread; from that stage on, expect
its quality within noise of the card's, not the same weights. The shapes model was made over
several sessions at earlier commits (its model card lists every command); its recipe is the
same stages with the same settings and step counts in one go, so expect its quality table
within noise of the card's, not the same weights.
"""

import argparse
import json
import shlex
import shutil
from pathlib import Path

from editor.demo import train
from editor.models import DEMO_MODEL_DIR, DEMO_PHOTO_MODEL_DIR

RUNS = Path("runs")
# name: (installed folder, [(run folder, train options, what it resumes (a model or run
#                             folder of a stage before), the UNet step it ends at)])
RECIPES = {
    "photos": (DEMO_PHOTO_MODEL_DIR, [
        ("photo", "--world photos --vae-steps 2000 --steps 10000 --batch-size 16 --lr 1e-3 "
                  "--warmup 200 --save-every 250 --eval-every 1000 --text-scale 1.5 "
                  "--image-scale 1.5 --threads 1", None, 10000),
        ("photo-longer", "--world photos --steps 18000 --save-every 250 --eval-every 2000 "
                         "--text-scale 1.5 --image-scale 1.5 --threads 1", "photo", 18000),
        # --scheduler only names the recommended sampler in pixchat.json (the model card's
        # "Choosing the sampler").
        ("photo-longest", "--world photos --steps 24000 --save-every 250 --eval-every 3000 "
                          "--text-scale 1.5 --image-scale 1.5 --threads 1 --scheduler euler",
         "photo-longer", 24000),
        # --favour: the kinds the model got least right, drawn more often (the model card's
        # "Resuming the training").
        ("photo-favoured", "--world photos --steps 32000 --save-every 250 --eval-every 4000 "
                           "--text-scale 1.5 --image-scale 1.5 --threads 1 --scheduler euler "
                           "--favour warmer cooler 'more saturated' 'less saturated' warmer "
                           "cooler 'more saturated' 'less saturated' 'more contrast' tint",
         "photo-longest", 32000),
        # --refit-vae: the autoencoder trained again from its weights, half of its images
        # random colours, then the UNet on the new latents (the model card's "Refitting the
        # autoencoder"); it needs the model folder of the stage before, not its run folder.
        ("photo-refit", "--world photos --refit-vae --random-colours 0.5 --vae-steps 2000 "
                        "--vae-lr 5e-4 --steps 12000 --save-every 250 --eval-every 2000 "
                        "--text-scale 1.5 --image-scale 1.5 --threads 2 --scheduler euler "
                        "--favour warmer cooler 'more saturated' 'less saturated' warmer "
                        "cooler 'more saturated' 'less saturated' 'more contrast' tint",
         "photo-favoured/model", 44000),
        ("photo-refit-favoured", "--world photos --steps 56000 --save-every 250 "
                                 "--eval-every 4000 --text-scale 1.5 --image-scale 1.5 "
                                 "--threads 2 --scheduler euler --favour 'more saturated' "
                                 "'more saturated' 'more saturated' cooler cooler warmer "
                                 "'less saturated' 'black and white' sepia faded "
                                 "'more contrast' tint", "photo-refit", 56000),
        ("photo-refit-saturated", "--world photos --steps 64000 --save-every 250 "
                                  "--eval-every 4000 --text-scale 1.5 --image-scale 1.5 "
                                  "--threads 2 --scheduler euler --favour 'more saturated' "
                                  "'more saturated' 'more saturated' 'more saturated' "
                                  "'less saturated' 'black and white' sepia",
         "photo-refit-favoured", 64000),
        # from the model it ended with: its weights, a fresh optimizer, 10,000 more steps at
        # a tenth of the learning rate (its run folder's optimizer state was not kept)
        ("photo-refit-tuned", "--world photos --steps 10000 --lr 1e-4 --save-every 250 "
                              "--eval-every 5000 --text-scale 1.5 --image-scale 1.5 "
                              "--threads 2 --scheduler euler --favour 'more saturated' "
                              "'more saturated' 'more saturated' 'more saturated' "
                              "'less saturated' 'black and white' sepia",
         "photo-refit-saturated/model", 74000),
    ]),
    "shapes": (DEMO_MODEL_DIR, [
        ("base", "--vae-steps 1500 --steps 6000 --save-every 250 --eval-every 1000", None,
         6000),
        ("shape-weight", "--steps 28000 --lr 3e-4 --shape-weight 4 --text-scale 1.5 "
                         "--save-every 250 --eval-every 2000", "base/model", 34000),
        ("decoder", "--steps 0 --decoder-steps 7500 --save-every 250", "shape-weight/model",
         34000),
        ("final", "--steps 6000 --lr 3e-4 --shape-weight 4 --text-scale 1.5 --save-every 250 "
                  "--eval-every 3000", "decoder/model", 40000),
    ]),
}


def stages(name: str) -> list[tuple[list[str], int]]:
    """The `train` arguments of every stage of a recipe, in order, with the UNet step each
    ends at."""
    folder = RUNS / f"reproduce-{name}"
    return [(["--out", str(folder / run),
              *(["--resume", str(folder / start)] if start else []),
              *shlex.split(options)], ends_at)
            for run, options, start, ends_at in RECIPES[name][1]]


def finished(arguments: list[str], ends_at: int) -> bool:
    """Whether a stage's run folder holds its final model."""
    options = train.parse_args(arguments)
    training = options.out / "model" / "training.json"
    if not training.exists():
        return False
    done = json.loads(training.read_text())
    return (done.get("unet_step", 0) >= ends_at
            and done.get("decoder_step", 0) >= options.decoder_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description="Reproduce a shipped embedded model.")
    parser.add_argument("model", choices=RECIPES)
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--install", action="store_true",
                        help="copy the final model into the package when done")
    args = parser.parse_args()
    for arguments, ends_at in stages(args.model):
        print("python -m editor.demo.train " + shlex.join(arguments), flush=True)
        if not args.dry_run and not finished(arguments, ends_at):
            train.main(arguments)
    final = Path(stages(args.model)[-1][0][1]) / "model"
    if args.install and not args.dry_run:
        installed = RECIPES[args.model][0]
        shutil.rmtree(installed, ignore_errors=True)
        shutil.copytree(final, installed)
        print(f"installed {final} as {installed}")


if __name__ == "__main__":
    main()
