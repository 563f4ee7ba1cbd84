# Session reminder for helpers (untracked; do not commit).
def pytest_report_header(config):
    return "HELPER: read ./HELPER-BRIEF.md (deadline 04:00 UTC; PYTHONPATH=$PWD/src:$PWD; do not commit this file)"
