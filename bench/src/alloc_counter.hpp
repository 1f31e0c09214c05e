// Heap allocations made by the threads that opted in (the client's io threads), counted by a replaced
// global operator new. Threads of an in-process mock server are not counted.
#pragma once

#include <cstdint>

namespace bench {

/// Starts counting the calling thread's allocations.
void count_allocations_on_this_thread();

/// Allocations made so far by counting threads.
std::uint64_t allocations();

}  // namespace bench
