#pragma once
// ProRes 422 (HQ / standard / LT) encoder on a CUDA GPU (issue 11). Its packets are
// BYTE-IDENTICAL to the C++ reference, prores::encode_prores_frame (worker/encode/prores), which
// is its specification; docs/prores.md ("GPU encoder") describes the kernels.
//
// HOW TO USE IT (worker pipeline / shard writer):
//   #include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"   // no CUDA or torch headers
//   link rs_prores_cuda (always exists; without REELSCALE_WITH_CUDA it is a stub whose
//   cuda_encoder_available() is false and whose constructor throws MediaError).
//
//   if (prores::cuda_encoder_available()) {
//     prores::CudaEncoder enc(width, height, prores::ProresOptions{});   // once per shard/size
//     // per frame, 10-bit 4:2:2 planar uint16 in DEVICE memory (samples 0..1023, chroma planes
//     // (width+1)/2 wide), strides in SAMPLES (not bytes), on your CUDA stream:
//     std::vector<uint8_t> pkt = enc.encode(d_y, d_cb, d_cr, y_stride, c_stride, stream);
//     // (or enc.encode_into(..., stream, pkt) to reuse one vector's capacity frame after frame)
//     // pkt is one complete ProRes frame packet ('icpf' frame): mux it as a video packet of a
//     // MOV stream with codec_id AV_CODEC_ID_PRORES, codec_tag prores::profile_fourcc(profile)
//     // ('apch' for HQ), width/height, format yuv422p10le, BT.709 tags, every packet a keyframe.
//   }
//   `encode` orders itself after the work already queued on `stream` (it reads the planes
//   there), and returns when the packet is on the host; the planes may be reused after that.
//   A host-memory overload (`encode_host`) copies the planes in first (tests, bench, CPU input).
//   config encode.device -> which encoder: worker/encode/prores_cuda/encoder_choice.hpp.
//
// One encoder object owns its device buffers and a CUDA stream of its own (for encode_host);
// it is not thread-safe: use one per thread/shard writer. Inputs beyond 10 bits are clamped to
// 1023 (the reference is only specified for 10-bit input).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "worker/encode/prores/prores_encoder.hpp"

struct CUstream_st;  // cudaStream_t is `CUstream_st*`: declared here so no CUDA header is needed

namespace reelscale::prores {

// True when this build has the CUDA encoder (REELSCALE_WITH_CUDA) and a CUDA device is usable.
bool cuda_encoder_available();

class CudaEncoder {
 public:
  // Allocates every device buffer for frames of this size on the current CUDA device.
  // Throws MediaError (size out of range, no CUDA device, built without CUDA).
  CudaEncoder(int width, int height, const ProresOptions& options);
  ~CudaEncoder();
  CudaEncoder(const CudaEncoder&) = delete;
  CudaEncoder& operator=(const CudaEncoder&) = delete;

  // One frame from device memory (see above). `stream` may be nullptr (the legacy default
  // stream). Returns the frame packet.
  std::vector<uint8_t> encode(const uint16_t* d_y, const uint16_t* d_cb, const uint16_t* d_cr,
                              ptrdiff_t y_stride, ptrdiff_t c_stride, CUstream_st* stream);
  // The same into `packet` (resized; its capacity is reused from frame to frame, which saves
  // the page faults of a fresh multi-megabyte vector per frame).
  void encode_into(const uint16_t* d_y, const uint16_t* d_cb, const uint16_t* d_cr,
                   ptrdiff_t y_stride, ptrdiff_t c_stride, CUstream_st* stream,
                   std::vector<uint8_t>& packet);
  // One frame from host memory: the arguments of encode_prores_frame (strides in samples).
  std::vector<uint8_t> encode_host(const uint16_t* y, const uint16_t* cb, const uint16_t* cr,
                                   ptrdiff_t y_stride, ptrdiff_t c_stride);

  // GPU time of the last encode in milliseconds (CUDA events around its kernels and the
  // packet's copy to the host).
  double last_gpu_ms() const;
  // The same split by stage: (slice, candidate) costs, quantiser pick, layout + slice coding,
  // packet copy (including the wait for the packet's size).
  struct StageMs {
    double cost = 0, pick = 0, encode = 0, copy = 0;
  };
  StageMs last_stage_ms() const;
  int width() const;
  int height() const;
  const ProresOptions& options() const;
  size_t slice_count() const;

  // For tests: the last frame's (slice, candidate) costs and chosen candidate indices, copied
  // from the device (the reference's slice_cost / pick_quantisers must give the same).
  std::vector<std::vector<SliceCost>> last_costs() const;
  std::vector<int> last_picks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Throughput of the encoder on one picture already in device memory (uploaded once), as the
// pipeline hands frames over: `frames` encodes after one warm-up (reelscale bench encode
// --device gpu, scripts/gpu/prores_check.sh). Host planes as encode_host's.
struct CudaBenchResult {
  int frames = 0;
  double wall_s = 0;            // all encodes, device input, each packet copied to the host
  double gpu_ms_per_frame = 0;  // mean of last_gpu_ms()
  double bytes_per_frame = 0;
  CudaEncoder::StageMs stage_ms;  // means
};
CudaBenchResult bench_cuda_encoder(const uint16_t* y, const uint16_t* cb, const uint16_t* cr,
                                   int width, int height, int frames, const ProresOptions& options);

}  // namespace reelscale::prores
