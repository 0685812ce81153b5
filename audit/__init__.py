"""audit: what auditors and engineers read after the fact: the history export (export), its
replay against the current code (replay) and the explained timeline (timeline/). It reads the
store and Temporal and imports the workflows only to replay them; nothing here is a command line
(arrears/ wraps it) or an HTTP route (api/ does)."""
