"""Click's usage errors rewritten as one line: the option, what was given, what is allowed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence


def _given(argv: list[str], names: Sequence[str]) -> str | None:
    """The value typed after one of the option ``names`` (``--x v`` or ``--x=v``)."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def _no_such_option(exc: Exception, options: Mapping[str, Sequence[str]] | None) -> str:
    """``--x: no such option`` and a hint: the commands that take it, else the closest of this
    command's own options, else --help."""
    import difflib

    name: str = getattr(exc, "option_name", "") or ""
    ctx = getattr(exc, "ctx", None)
    command = getattr(getattr(ctx, "command", None), "name", None)
    own = [o for o in (options or {}).get(command or "", getattr(exc, "possibilities", None) or [])]
    flag = name.split("=", 1)[0]
    takers = [c for c, opts in (options or {}).items() if c != command and flag in opts]
    if takers:
        where = f"{', '.join(takers[:-1])} and {takers[-1]}" if len(takers) > 1 else takers[0]
        if command not in (options or {}):  # the group itself: percgrad --json single
            return f"{name}: no such option before the command; give it after one: {where}"
        return (f"{name}: no such option for percgrad {command}; {where} "
                f"{'take' if len(takers) > 1 else 'takes'} it")
    if flag in ("--version", "-V") and command in (options or {}):
        return f"{name}: no such option for percgrad {command}; the version is percgrad --version"
    candidates = [o for o in own if o.startswith("--")] or list(own)
    close = difflib.get_close_matches(flag, candidates, n=1, cutoff=0.7)
    hint = f"; did you mean {close[0]}?" if close else "; see --help for the options"
    return f"{name}: no such option{hint}"


def usage_message(exc: Exception, argv: list[str], commands: Sequence[str],
                  options: Mapping[str, Sequence[str]] | None = None) -> str:
    """A Click usage error as one line; ``commands`` are offered when the command is unknown,
    ``options`` (every command's option names) say which commands take an unknown option."""
    import difflib

    from typer import _click

    text = getattr(exc, "message", str(exc))
    if isinstance(exc, _click.exceptions.NoSuchOption):
        return _no_such_option(exc, options)
    if isinstance(exc, _click.exceptions.BadOptionUsage):
        return f"{exc.option_name}: needs a value" if "requires an argument" in text else \
            f"{exc.option_name}: {text}"
    param = getattr(exc, "param", None)
    if param is not None:
        names = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(param.opts)
        label = names[0] if names else (param.human_readable_name or param.name or "?")
        if isinstance(exc, _click.exceptions.MissingParameter):
            return f"{label.upper() if not label.startswith('-') else label}: missing; see --help"
        given = _given(argv, list(param.opts))
        allowed = ""
        if "valid integer" in text:
            allowed = "a whole number"
        elif "valid number" in text or "valid float" in text:
            allowed = "a number"
        elif "valid boolean" in text:
            allowed = "true or false"
        choices = re.findall(r"'([^']*)'", text.split("is not one of", 1)[1]) if (
            "is not one of" in text) else []
        if choices:
            close = difflib.get_close_matches(str(given or ""), choices, n=1)
            allowed = "one of: " + ", ".join(choices) + (f"; did you mean {close[0]}?" if close else "")
        if given is not None and allowed:
            return f"{label}: {given!r} is not {allowed}"
        return f"{label}: {text}"
    command = re.match(r"No such command '([^']*)'", text)
    if command:
        names = [c for c in commands if not c.startswith("_")]
        close = difflib.get_close_matches(command.group(1), names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"no such command {command.group(1)!r}; commands: {', '.join(names)}{hint}"
    return text


def _click_errors() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...]]:
    """Click's usage-error and abort types (as Typer bundles Click)."""
    from typer import _click, exceptions

    return (_click.exceptions.UsageError,), (exceptions.Abort,)


USAGE_ERRORS, ABORTS = _click_errors()
