#include "worker/encode/prores_cuda/frame_plan.hpp"

#include <string>

#include "shared/util/errors.hpp"

namespace reelscale::prores {

FramePlan make_frame_plan(int width, int height, const ProresOptions& o) {
  if (width < 1 || height < 1 || width > 65535 || height > 65535)
    throw MediaError("prores (CUDA): frame size " + std::to_string(width) + "x" +
                     std::to_string(height) + " out of range");
  FramePlan p;
  p.width = width;
  p.height = height;
  p.layout = slice_layout(width, height);
  if (p.layout.size() > 65535) throw MediaError("prores (CUDA): too many slices");
  for (const Slice& s : p.layout) {
    const int lg = s.mb_count == 8 ? 3 : s.mb_count == 4 ? 2 : s.mb_count == 2 ? 1 : 0;
    p.slices.push_back({s.mb_x, s.mb_y, s.mb_count, lg});
  }
  const int mb_count = ((width + 15) / 16) * ((height + 15) / 16);
  const int bpm = o.bits_per_mb > 0 ? o.bits_per_mb : profile_bits_per_mb(o.profile, mb_count);
  p.budget = static_cast<int64_t>(mb_count) * bpm / 8;

  const auto& qs = candidate_quantisers();
  p.candidates = static_cast<int>(qs.size());
  p.qscale.assign(qs.begin(), qs.end());
  // The kernels quantise every component with one table: the profiles' chroma matrix is the
  // luma one (prores_encoder.cpp); refuse loudly should that ever change.
  const auto& mat = luma_matrix(o.profile);
  if (chroma_matrix(o.profile) != mat)
    throw MediaError("prores (CUDA): distinct luma and chroma matrices are not supported");
  const std::array<uint8_t, 64>& scan = progressive_scan();
  p.step.resize(qs.size() * 64);
  p.mult.resize(qs.size() * 64);
  for (size_t k = 0; k < qs.size(); ++k)
    for (int i = 0; i < 64; ++i) {
      const uint64_t d = static_cast<uint64_t>(mat[scan[i]]) * static_cast<uint64_t>(qs[k]);
      // code_component sums a lane's squared residuals (< step^2) over <= 65 rounds in 32 bits.
      if (d > 8129)
        throw MediaError("prores (CUDA): quantiser step " + std::to_string(d) +
                         " beyond the kernels' 32-bit error sums (max 8129)");
      p.step[k * 64 + static_cast<size_t>(i)] = static_cast<uint32_t>(d);
      p.mult[k * 64 + static_cast<size_t>(i)] = static_cast<uint32_t>(((uint64_t{1} << 32) + d - 1) / d);
    }
  for (int i = 0; i < 64; ++i)
    p.matrix_mult.push_back(static_cast<uint32_t>(((uint64_t{1} << 32) + mat[scan[i]] - 1) / mat[scan[i]]));
  p.prefix = packet_prefix(width, height, p.layout.size(), o);
  return p;
}

}  // namespace reelscale::prores
