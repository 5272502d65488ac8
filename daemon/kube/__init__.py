"""The only package that imports `kubernetes`: client set-up, calls, watches, error translation."""
