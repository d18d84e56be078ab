"""Code shared by the cfcd Lambda tasks (deployed as a SAM layer, also installed with the CLI)."""
