#include "shared/util/memory_policy.hpp"

#include <malloc.h>

#include <cstdlib>

#include <mutex>

namespace reelscale::util {

void keep_freed_heap_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_MAX, 0);               // big blocks from the heap, not from their own mapping
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and the heap's top not given back below 1 GiB free
  });
}

void prefer_expandable_cuda_segments() { ::setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", 0); }

}  // namespace reelscale::util
