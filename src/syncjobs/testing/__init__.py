"""Testing support for syncjobs and host apps: fake providers and contract suites."""
