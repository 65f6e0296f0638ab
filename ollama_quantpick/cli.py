"""The `quantpick` command: parse, call, print. Each verb lives in commands/<verb>.py."""

from __future__ import annotations

import contextlib
import gc
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


GLOBAL_FLAGS = {"-v": ("-v", "--verbose"), "-q": ("-q", "--quiet")}


class Group(click.Group):
    """Turns the project's errors into one line and its exit code; `-v` shows the traceback.
    `-v/--verbose` and `-q/--quiet` are taken after the subcommand too (`quantpick tags x -v`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = list(args)
        end = args.index("--") if "--" in args else len(args)
        head, tail = args[:end], args[end:]
        sub = next((i for i, a in enumerate(head) if not a.startswith("-")), len(head))
        cmd = self.get_command(ctx, head[sub]) if sub < len(head) else None
        own = set()  # flags the subcommand defines itself (pull -q) stay with it
        for param in getattr(cmd, "params", []):
            own.update(getattr(param, "opts", []))
        found = []
        for short, names in GLOBAL_FLAGS.items():
            before = any(a in names for a in head[:sub])
            after = any(a in names for a in head[sub + 1:]) and not own.intersection(names)
            if before or after:
                found.append(short)
                head = [a for i, a in enumerate(head) if a not in names or (
                    i > sub and own.intersection(names))]
                sub = next((i for i, a in enumerate(head) if not a.startswith("-")), len(head))
        return super().parse_args(ctx, found + head + tail)

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
            err.exit_code = exc.exit_code  # type: ignore[misc]  # Click reads it per instance
            raise err from None
        except click.exceptions.NoArgsIsHelpError as exc:
            # A group without its subcommand (`quantpick config`): its help, as bare `quantpick`
            # prints it (stdout, exit 0), not the help folded into one error line.
            click.echo(exc.ctx.get_help())
            ctx.exit(0)
        except click.UsageError as exc:
            # One line instead of Click's usage block: what was wrong and where to look. Click's
            # own layout inside the message (a Choice's "\n\t" list) becomes plain spaces.
            sub = exc.ctx.command_path if exc.ctx else "quantpick"
            text = " ".join(exc.format_message().split())
            err = click.ClickException(one_line(f"{text} (see '{sub} --help')"))
            err.exit_code = exc.exit_code  # type: ignore[misc]  # Click reads it per instance
            raise err from None
        except KeyboardInterrupt:
            # a pull keeps what it downloaded (Ollama resumes it); nothing else has anything to
            # resume, and the download question is answered before anything starts
            pulling = ctx.invoked_subcommand in ("pull", "sync") and not ctx.meta.get("asking")
            click.echo("interrupted — run the same command again to resume" if pulling
                       else "interrupted", err=True)
            ctx.exit(130)


@click.group(cls=Group, epilog=EXIT_CODES, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quantpick")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors (also after the "
              "subcommand).")
@click.option("-q", "--quiet", is_flag=True, help="No notes and no progress (also after the "
              "subcommand).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Which tag of this Ollama model should I pull on this machine, for this job?

    \b
    Examples:
      quantpick hw
      quantpick tags phi4
      quantpick pick llama3.3 --task math
      quantpick pull llama3.3 --task math --dry-run
      ollama run "$(quantpick pick gemma3 --task chat)"
    """
    ctx.obj = {"verbose": verbose, "quiet": quiet}
    if ctx.invoked_subcommand is None:  # bare `quantpick`: the help, on stdout, exit 0
        click.echo(ctx.get_help())
        ctx.exit(0)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (Click's) for SHELL.

    \b
    Install:
      bash: quantpick completion bash > ~/.local/share/bash-completion/completions/quantpick
      zsh:  quantpick completion zsh > "${fpath[1]}/_quantpick"
      fish: quantpick completion fish > ~/.config/fish/completions/quantpick.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the three choices are Click's built-in shells
    click.echo(cls(cli, {}, "quantpick", "_QUANTPICK_COMPLETE").source())


def _register() -> None:
    from ollama_quantpick.commands import config, fit, hw, listing, pick, pull, sync, tags

    for module in (tags, pick, fit, pull, listing, hw, config, sync):
        cli.add_command(module.command)
    cli.add_command(completion)


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
        # The process ends here. Python's last act would be a full garbage collection of every
        # object click and the command made, which frees nothing the OS would not: ~10 ms of
        # each run (bench/run.py). Frozen objects are left out of it.
        gc.freeze()
        raise
