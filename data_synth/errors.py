"""Errors raised by the synthetic-trial generator."""


class TargetError(ValueError):
    """A targets file is malformed, or a target cannot be met; the message names it and why."""
