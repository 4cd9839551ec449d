"""The one-line-per-check report template_check.py and deploy_rehearsal.py print."""


class Checks:
    """Call with (ok, what): prints `ok   what` or `FAIL what` and returns ok."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        self.passed += bool(ok)
        self.failed += not ok
        return ok

    def summary(self):
        """Prints "N passed, M failed"; the exit code (1 if any failed)."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
