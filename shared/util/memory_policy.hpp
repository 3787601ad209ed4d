#pragma once
// Process-wide memory settings the model needs: the host heap for CPU inference, the CUDA
// caching allocator for GPU inference. Both are decided once per process.

namespace reelscale::util {

// Keeps memory the process frees in its heap instead of handing it back to the kernel.
// For CPU inference: LibTorch allocates and frees tensors of tens to hundreds of MB at every
// layer; glibc maps each one afresh and the kernel zero-fills every page on first touch. On a
// virtual machine that page-fault work measured 8x the arithmetic (BasicVSR++ c16n2 at 256x256:
// 41.9 s a frame before, 4.9 s after, 2.5 s with OpenBLAS too; docs/perf-notes.md). The heap
// stays at its peak size, which a worker reaches on its first chunk anyway. Process-wide, once.
void keep_freed_heap_memory();

// PyTorch's CUDA caching allocator in growable segments (PYTORCH_CUDA_ALLOC_CONF
// expandable_segments:True) unless the user set PYTORCH_CUDA_ALLOC_CONF. With fixed blocks, T=96
// + 16 context frames under a 22 GiB cap (a 24 GB card) ran out of memory with 3.7 GiB reserved
// but unusable; with growable segments it fits at the same peak (GPU run 8, docs/perf-notes.md).
// LibTorch reads the variable when it loads, so this runs before the model library is loaded.
// Programs that link LibTorch directly (bench_model, the tests) load it before main: for them
// the model runner also hands the setting to the allocator (worker/model/runner.cpp).
void prefer_expandable_cuda_segments();

}  // namespace reelscale::util
