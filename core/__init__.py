"""core: infrastructure every process shares (settings, the Temporal connection and data
converter, the payload codec, log masking, in-process serving). It imports nothing of ours, so
every other package may depend on it and it on none of them."""
