"""Errors a user can act on. The CLI prints their message on one line and exits with `exit_code`."""


class QuantpickError(Exception):
    """It could not be done (network, daemon, page layout, pull failed): exit 1."""

    exit_code = 1


class InputError(QuantpickError):
    """The user asked wrongly (bad size, bad name, bad config): exit 2."""

    exit_code = 2


class NothingFits(QuantpickError):
    """No tag fits the budget: exit 3."""

    exit_code = 3
