"""``kernelgan``: estimate blur kernels, degrade, evaluate. Thin: parses, calls the library, prints."""

from __future__ import annotations

import typer

from . import degrade_cmd, estimate_cmd, eval_cmd, sr_cmd, train_prior_cmd, train_srmd_cmd

app = typer.Typer(
    help="Blind super-resolution kernel estimation (KernelGAN): estimate, export and evaluate blur kernels.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("estimate")(estimate_cmd.estimate)
app.command("degrade")(degrade_cmd.degrade)
app.command("eval")(eval_cmd.eval_)
app.command("sr")(sr_cmd.sr)
app.command("backends")(sr_cmd.backends)
app.command("estimators")(estimate_cmd.estimators)
app.command("train-srmd")(train_srmd_cmd.train_srmd_cmd)
app.command("train-prior")(train_prior_cmd.train_prior_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
