"""The one exception type for bad user input.

Every message names the file (and row or column where there is one) and says
what to fix, e.g. ``"labels.csv: survival_months has 3 negative values (rows 4,
17, 52); survival times must be > 0 months"``. Code inside the library trusts
its types; only the boundaries (files, paths, configs, checkpoints) raise this.
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input from a user: a file, a path, a config or a checkpoint.

    Subclasses :class:`ValueError` so callers that already catch that keep working.
    The dashboard shows ``str(err)`` as-is, so messages must be complete sentences
    that say what to fix.
    """
