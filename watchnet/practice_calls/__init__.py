"""Practice calls (連絡訓練): a drill rehearses the call chain of a real alert on the same
channels, and the district sees its reach (到達) — who was reached, on which channel, how fast."""
