"""Errors a user can act on. The CLI prints their message on one line and exits with `exit_code`."""


class QuantpickError(Exception):
    """It could not be done (network, daemon, page layout, pull failed): exit 1."""

    exit_code = 1


class InputError(QuantpickError):
    """The user asked wrongly (bad size, bad name, bad config): exit 2."""

    exit_code = 2


class NothingFits(QuantpickError):
    """No tag fits the budget: exit 3. `plan` (when known) holds the ranked candidates, so
    `--json` can still print the answer "no" with the closest one; `detail` adds what the
    answer says beyond the plan (alternatives of other models)."""

    exit_code = 3

    def __init__(self, message: str, plan=None, detail: dict | None = None):
        super().__init__(message)
        self.plan = plan
        self.detail = detail or {}


class UnknownModel(InputError):
    """The library has no such model: a bad request (exit 2, with "did you mean"); among several
    models the message also says which others remain."""
