"""Testing support for syncjobs and its host apps: fake provider servers, contract suites, fixtures."""
