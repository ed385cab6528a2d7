"""The test suite. It mirrors the code: unit/<package>/, actions/, connectors/, components/,
e2e/ (test stories), conversations/, e2e_live/, browser/, security/; support/ holds the stack
and the fakes. Run from the repository root (pytest's `pythonpath = ["."]`), so the tests
import `tests.support.*`, `scripts.*` and the project's packages by their full names."""
