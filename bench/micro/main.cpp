// Catch2's main for the micro-benchmarks, with benchmarking switched on (the test suites' shared main
// leaves it off).
#define CATCH_CONFIG_MAIN
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>
