"""Helpers every part of the library may use: atomic files, Keras internals."""
