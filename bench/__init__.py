"""Sotto's benchmarks.

A regular package (not a namespace one) so that `bench.*` means this folder even where
aioesphomeapi, which installs a top-level package of the same name, is installed.
"""
