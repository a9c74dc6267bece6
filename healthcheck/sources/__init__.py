"""Sources: everything that brings metrics in from outside, each yielding canonical frames."""
