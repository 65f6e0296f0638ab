"""The `quantpick` command: parse, call, print. Each verb lives in commands/<verb>.py."""

from __future__ import annotations

import contextlib
import os
import re
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


# C0/C1 control characters (newlines, ESC of terminal escape sequences) in a message come from user
# input or a server's text; shown escaped they can neither break the one-line rule nor the terminal.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(message: str) -> str:
    """The message fit for stderr: one line, no control characters, no credentials."""
    from ollama_quantpick.paths import scrub

    text = _CONTROL_RE.sub(lambda m: repr(m.group())[1:-1], message.strip())
    return scrub(text)


class Group(click.Group):
    """Turns the project's errors into one line and its exit code; `-v` shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NothingFits as exc:  # an answer ("no"), not a failure: no "Error:" prefix
            click.echo(one_line(str(exc)), err=True)
            ctx.exit(exc.exit_code)
        except QuantpickError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                import traceback

                from ollama_quantpick.paths import scrub

                click.echo(scrub(traceback.format_exc()), err=True, nl=False)
            err = click.ClickException(one_line(str(exc)))
            err.exit_code = exc.exit_code
            raise err from None
        except click.UsageError as exc:
            # One line instead of Click's usage block: what was wrong and where to look.
            sub = exc.ctx.command_path if exc.ctx else "quantpick"
            err = click.ClickException(one_line(f"{exc.format_message()} (see '{sub} --help')"))
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


def _leave(code: int) -> None:
    """Exit now, without joining worker threads still blocked in a request (Python's exit would
    wait for them): Ctrl-C must end the process within a second, not after the read timeout."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def main() -> None:
    try:
        cli(prog_name="quantpick")
    except KeyboardInterrupt:  # outside a command (e.g. while importing)
        click.echo("interrupted", err=True)
        _leave(130)
    except SystemExit as exc:
        if exc.code == 130:
            _leave(130)
        raise
