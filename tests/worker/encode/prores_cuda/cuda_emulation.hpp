#pragma once
// Runs the CUDA ProRes kernels (worker/encode/prores_cuda/prores_cuda_kernels.cuh) on the CPU,
// so machines without a GPU still check the device algorithm (warp ballots and shuffles, the
// run/level carry, bit packing, the pick's bisection, the layout) against the reference.
//
// Each CUDA thread of a block is a fiber of one OS thread; a barrier (__syncthreads, every warp
// collective) yields until all its threads arrived. On x86-64 the fibers switch with a few
// instructions of assembly (ucontext's swapcontext makes a system call per switch, 20x slower
// here: the emulated kernels switch millions of times); elsewhere with ucontext. Blocks run one after the other,
// so `__shared__` becomes `static`. A grid sync is only correct for one-block grids (the test
// launches the pick kernel with one block; its loop is grid-stride). Slow (microseconds per
// collective), fine for the small frames the test uses. Not a CUDA implementation: only what
// those kernels use.
#include <ucontext.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#define REELSCALE_PRORES_EMULATION 1
#define __device__
#define __global__
#define __constant__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct int4 {
  int x, y, z, w;
};
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
struct dim3_emu {
  unsigned x = 1, y = 1, z = 1;
};

#if defined(__x86_64__) && defined(__linux__)
#define REELSCALE_EMU_ASM_SWITCH 1
// Saves the callee-saved registers on the current stack, stores its pointer in *save, loads
// `next` and pops that fiber's registers: a context switch as the SysV ABI sees a call.
extern "C" void reelscale_emu_switch(void** save, void* next);
asm(R"(
  .text
  .globl reelscale_emu_switch
  .type reelscale_emu_switch, @function
reelscale_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size reelscale_emu_switch, .-reelscale_emu_switch
)");
#endif

namespace emu {

struct Fiber {
  void* sp = nullptr;  // saved stack pointer (asm switch)
  ucontext_t ctx{};
  std::vector<char> stack;
  bool done = false;
  unsigned tid = 0;
};

struct Barrier {
  unsigned n = 0, count = 0, generation = 0;
};

struct Block {
  std::vector<Fiber> fibers;
  ucontext_t scheduler{};
  void* scheduler_sp = nullptr;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<uint64_t> slots;  // one per thread, for warp exchanges
  std::vector<uint32_t> dynamic_smem;
  std::function<void()> body;
  unsigned current = 0;
};

inline Block* g_block = nullptr;
inline dim3_emu threadIdx, blockIdx, blockDim, gridDim;

inline void yield() {
  Block& b = *g_block;
#ifdef REELSCALE_EMU_ASM_SWITCH
  reelscale_emu_switch(&b.fibers[b.current].sp, b.scheduler_sp);
#else
  swapcontext(&b.fibers[b.current].ctx, &b.scheduler);
#endif
}

inline void wait(Barrier& br) {
  const unsigned gen = br.generation;
  if (++br.count == br.n) {
    br.count = 0;
    ++br.generation;
    return;
  }
  while (br.generation == gen) yield();
}

inline void trampoline() {
  g_block->body();
  g_block->fibers[g_block->current].done = true;
#ifdef REELSCALE_EMU_ASM_SWITCH
  yield();  // never resumed: the scheduler skips finished fibers
  __builtin_trap();
#endif
  // (ucontext) returning resumes uc_link, the scheduler
}

// Runs `kernel` for grid x block threads with `smem_bytes` of dynamic shared memory.
inline void launch(unsigned grid, unsigned block, size_t smem_bytes, const std::function<void()>& kernel) {
  if (block % 32) throw std::logic_error("emulation: block size must be a multiple of 32");
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned bi = 0; bi < grid; ++bi) {
    auto b = std::make_unique<Block>();
    g_block = b.get();
    b->body = kernel;
    b->block.n = block;
    b->warps.resize(block / 32);
    for (auto& w : b->warps) w.n = 32;
    b->slots.resize(block);
    b->dynamic_smem.assign((smem_bytes + 3) / 4, 0xDEADBEEFu);  // garbage, as on a GPU
    b->fibers.resize(block);
    for (unsigned t = 0; t < block; ++t) {
      Fiber& f = b->fibers[t];
      f.tid = t;
      f.stack.resize(64 * 1024);
#ifdef REELSCALE_EMU_ASM_SWITCH
      // Initial frame popped by the first switch: six zero registers, then trampoline as the
      // return address; after that `ret` the stack pointer is 8 mod 16, as after a call.
      uintptr_t top = reinterpret_cast<uintptr_t>(f.stack.data() + f.stack.size()) & ~uintptr_t{15};
      auto* sp = reinterpret_cast<void**>(top) - 2;  // 16-aligned slot below the top
      *(sp + 1) = nullptr;                          // fake return address of trampoline
      *sp = reinterpret_cast<void*>(&trampoline);
      for (int r = 0; r < 6; ++r) *--sp = nullptr;
      f.sp = sp;
#else
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack.data();
      f.ctx.uc_stack.ss_size = f.stack.size();
      f.ctx.uc_link = &b->scheduler;
      makecontext(&f.ctx, trampoline, 0);
#endif
    }
    blockIdx.x = bi;
    for (bool any = true; any;) {
      any = false;
      for (unsigned t = 0; t < block; ++t) {
        if (b->fibers[t].done) continue;
        any = true;
        b->current = t;
        threadIdx.x = t;
#ifdef REELSCALE_EMU_ASM_SWITCH
        reelscale_emu_switch(&b->scheduler_sp, b->fibers[t].sp);
#else
        swapcontext(&b->scheduler, &b->fibers[t].ctx);
#endif
      }
    }
    g_block = nullptr;
  }
}

template <typename T>
T exchange(T v, int src_lane) {
  Block& b = *g_block;
  const unsigned t = threadIdx.x, warp = t / 32;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  b.slots[t] = bits;
  wait(b.warps[warp]);
  T out;
  const uint64_t got = b.slots[warp * 32 + static_cast<unsigned>(src_lane)];
  std::memcpy(&out, &got, sizeof(T));
  wait(b.warps[warp]);
  return out;
}

}  // namespace emu

using emu::blockDim;
using emu::blockIdx;
using emu::gridDim;
using emu::threadIdx;

inline void __syncthreads() { emu::wait(emu::g_block->block); }
template <typename T>
T __shfl_sync(unsigned, T v, int src) {
  return emu::exchange(v, src & 31);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned d) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const int src = lane - static_cast<int>(d);
  return emu::exchange(v, src < 0 ? lane : src);
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int m) {
  return emu::exchange(v, static_cast<int>(threadIdx.x & 31u) ^ m);
}
inline unsigned __ballot_sync(unsigned, bool pred) {
  emu::Block& b = *emu::g_block;
  const unsigned t = threadIdx.x, warp = t / 32;
  b.slots[t] = pred ? 1 : 0;
  emu::wait(b.warps[warp]);
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l) m |= static_cast<unsigned>(b.slots[warp * 32 + l]) << l;
  emu::wait(b.warps[warp]);
  return m;
}
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline unsigned atomicOr(unsigned* p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ll2double_rn(long long v) { return static_cast<double>(v); }
inline double __longlong_as_double(long long v) {
  double d;
  std::memcpy(&d, &v, sizeof d);
  return d;
}
template <typename T>
T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
T max(T a, T b) {
  return a < b ? b : a;
}

#define RS_DYNAMIC_SMEM(name) uint32_t* name = emu::g_block->dynamic_smem.data()
#define RS_GRID_SYNC()                                                                      \
  do {                                                                                      \
    if (gridDim.x != 1) throw std::logic_error("emulation: grid sync needs a one-block grid"); \
    __syncthreads();                                                                        \
  } while (0)
