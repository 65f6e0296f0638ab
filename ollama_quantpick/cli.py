"""The `quantpick` command: parse, call, print. Each verb lives in commands/<verb>.py."""

from __future__ import annotations

import sys

import click

from ollama_quantpick import __version__
from ollama_quantpick.errors import NothingFits, QuantpickError

EXIT_CODES = """\b
Exit codes:
  0  done
  1  it could not be done (network, Ollama not running, pull failed, page not understood)
  2  the request was wrong (unknown option, bad size, unknown task or model name, bad config)
  3  nothing fits the budget (the closest candidate is printed)
  130 interrupted"""


class Group(click.Group):
    """Turns the project's errors into one line and its exit code; `-v` shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NothingFits as exc:  # an answer ("no"), not a failure: no "Error:" prefix
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except QuantpickError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                import traceback

                traceback.print_exc()
            err = click.ClickException(str(exc))
            err.exit_code = exc.exit_code
            raise err from None
        except click.UsageError as exc:
            # One line instead of Click's usage block: what was wrong and where to look.
            sub = exc.ctx.command_path if exc.ctx else "quantpick"
            err = click.ClickException(f"{exc.format_message()} (see '{sub} --help')")
            err.exit_code = exc.exit_code
            raise err from None
        except KeyboardInterrupt:
            click.echo("interrupted — run the same command again to resume", err=True)
            ctx.exit(130)


@click.group(cls=Group, epilog=EXIT_CODES,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantpick")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Which tag of this Ollama model should I pull on this machine, for this job?

    \b
    Examples:
      quantpick hw
      quantpick tags phi4
      quantpick pick llama3.3 --task math
      quantpick pull llama3.3 --task math --dry-run
      ollama run "$(quantpick pick gemma3 --task chat)"
    """
    ctx.obj = {"verbose": verbose}


def _register() -> None:
    from ollama_quantpick.commands import config, fit, hw, pick, pull, sync, tags

    for module in (tags, pick, fit, pull, hw, config, sync):
        cli.add_command(module.command)


_register()


def main() -> None:
    try:
        cli(prog_name="quantpick")
    except KeyboardInterrupt:  # pragma: no cover - outside a command
        click.echo("interrupted", err=True)
        sys.exit(130)
