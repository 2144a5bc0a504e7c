"""Testing support for syncjobs and host apps: fake providers, contract suites, fixtures."""
