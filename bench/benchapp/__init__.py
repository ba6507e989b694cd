"""A Django app for the processes the benchmarks start (``TRAX_TEST_APPS=bench.benchapp``, as
``tests.integration`` is for the integration tests): its ``trains`` module registers the bench
trains, and its ``ready`` names each database connection after who opened it."""
