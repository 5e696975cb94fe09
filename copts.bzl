"""Compiler options for the project's own code (not for system libraries)."""

PV_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-sign-compare",
]

PV_TEST_COPTS = PV_COPTS + ["-Wno-unused-variable"]
