"""``kernelgan``: estimate blur kernels, degrade, evaluate. Thin: parses, calls the library, prints.

Commands are loaded when they run: ``kernelgan --help`` lists them from the table below without importing
their modules (and so torch), which keeps it well under a second.
"""

from __future__ import annotations

import importlib
import signal
from typing import Any

import typer
from typer.core import TyperGroup

# name -> (module in this package, function, one-line summary for the command list)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "estimate": ("estimate_cmd", "estimate", "Estimate each image's x2 downscaling kernel."),
    "estimators": ("estimate_cmd", "estimators", "List the estimators (`estimate --estimator NAME`)."),
    "sr": ("sr_cmd", "sr", "Upscale images with a known or estimated kernel through an SR backend."),
    "backends": ("sr_cmd", "backends", "List the installed SR backends."),
    "degrade": ("degrade_cmd", "degrade", "Make LR test images (and their true kernels) from HR photos."),
    "noise-patches": ("noise_patches_cmd", "noise_patches", "Collect flat patches (a camera's noise) from photos."),
    "eval": ("eval_cmd", "eval_", "Score estimated kernels against true ones (floor, fixed kernel, ceiling)."),
    "report": ("report_cmd", "report", "Write one self-contained HTML page for an output folder."),
    "train-prior": ("train_prior_cmd", "train_prior_cmd", "Train the learned kernel prior on HR photos."),
    "train-srmd": ("train_srmd_cmd", "train_srmd_cmd", "Train SRMD weights on HR photos."),
    "train-direction": ("train_direction_cmd", "train_direction_cmd", "Train the network that turns kernels their way."),
    "train-plain-sampling": ("train_plain_sampling_cmd", "train_plain_sampling_cmd",
                             "Train the detector of software downscaling without antialiasing."),
    "train-router": ("train_router_cmd", "train_router_cmd", "Train the detector that picks SRMD's weights."),
    "train-zssr-start": ("train_zssr_start_cmd", "train_zssr_start_cmd", "Train ZSSR's learned start on HR photos."),
}


class LazyGroup(TyperGroup):
    """A command group that imports a command's module only when that command is looked up to run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module, function, _ = COMMANDS[cmd_name]
        func = getattr(importlib.import_module(f"{__package__}.{module}"), function)
        sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        sub.command(cmd_name, context_settings={"help_option_names": ["-h", "--help"]})(func)
        return typer.main.get_command(sub)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args:  # no command: the help, and the usage-error exit code
            typer.echo(ctx.get_help())
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # the plain (non-rich) layout: rich's would look up, and so import, every command
        super(TyperGroup, self).format_help(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, _, summary) in COMMANDS.items()])


app = typer.Typer(
    cls=LazyGroup,
    help="Blind super-resolution kernel estimation (KernelGAN and a learned kernel prior): estimate, export and "
         "evaluate blur kernels, upscale with them.",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"kernelgan {version('kernelgan')}")
        except PackageNotFoundError:
            typer.echo("kernelgan (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit."),
) -> None:
    """Blind super-resolution kernel estimation: estimate, export and evaluate blur kernels, upscale with them."""


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a run as Ctrl-C does: no partial set, exit 130


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    app()


if __name__ == "__main__":
    main()
