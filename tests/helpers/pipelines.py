"""Small pipelines the tests of several files share."""

#: one stub step: runs anywhere without user code (container start-up and settings tests)
STUB = """\
dag:
  start_at: s0
  steps:
    s0: {type: stub, next: success}
    success: {type: success}
    fail: {type: fail}
"""
