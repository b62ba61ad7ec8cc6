"""Errors that a stage reports to the user in one line and exits non-zero."""


class GlassboxError(Exception):
    """An error caused by the user's input, reported without a traceback."""


class ParamsError(GlassboxError):
    """A params.yaml value is missing, unknown, of the wrong type or out of range."""


class DataError(GlassboxError):
    """An input data file or folder is missing, truncated or corrupt."""


class TrackingError(GlassboxError):
    """The MLflow tracking store could not be reached or written."""
