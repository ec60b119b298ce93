"""The library's own error for bad input."""


class InputError(ValueError):
    """An error caused by the user's input (an argument, a file, the data),
    which the command line prints without a traceback.

    Any other exception is a bug in the library and keeps its traceback.
    Subclasses: `GenotypeError` (genotypes and genotype files) and
    `keras_drnas.data.DataError` (data a search cannot use).

    Example:
    >>> try:
    ...     raise InputError("channels must be positive, got 0.")
    ... except ValueError as error:  # still a ValueError for existing callers
    ...     print(error)
    channels must be positive, got 0.
    """
