"""Runtime settings: current value, default, where it comes from; change them live."""
