"""The harness: what every experiment stands on."""
