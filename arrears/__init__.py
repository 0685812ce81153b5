"""arrears: collections orchestration for consumer lenders on Temporal.

This package is the application shell (settings, command line, process supervision); the
business lives in the sibling packages domain/, workflows/, activities/, store/, worker/, api/.
"""
