#pragma once
// Checkpoint reading for the BasicVSR++ backend: PyTorch .pth files as torch.save writes them
// (a zip archive holding data.pkl and one raw record per storage) and .safetensors files,
// told apart by their first bytes, never by the extension.
//
// Two layers:
//  - torch-free (always available): read_checkpoint() gives every tensor as contiguous
//    little-endian bytes with dtype and shape; summarize() and infer_basicvsrpp_arch() serve
//    `reelscale model inspect`.
//  - LibTorch (only where rs_model is built with torch): load_state_dict() gives CPU tensors
//    and apply_state_dict() copies them into a module with strict key and shape checking.
//    A translation unit that must stay torch-free (e.g. one that logs with spdlog) defines
//    REELSCALE_CHECKPOINT_NO_TORCH before including this header.
//
// Nothing in a checkpoint is ever executed: see docs/checkpoints.md.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "worker/model/pickle_reader.hpp"

namespace reelscale::model {

enum class CheckpointFormat { Pth, Safetensors };
const char* format_name(CheckpointFormat f);  // "pth (torch.save zip)", "safetensors"

struct TensorRecord {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;  // contiguous row-major little-endian; empty in ShapesOnly mode
  std::int64_t numel() const;
};

struct CheckpointLimits {
  std::uint64_t max_file_bytes = std::uint64_t{64} << 30;
  std::uint64_t max_tensor_bytes = std::uint64_t{16} << 30;  // one tensor, once made contiguous
  std::uint64_t max_total_bytes = std::uint64_t{64} << 30;   // all tensors together
  pickle::Limits pickle;
};

// The state dict found in a checkpoint, keys already normalised (see read_checkpoint).
struct TensorTable {
  CheckpointFormat format = CheckpointFormat::Pth;
  std::string source_key;       // "state_dict", "params", "params_ema", or "" for the top level
  std::string stripped_prefix;  // "generator." (or "module.") when it was removed, else ""
  std::size_t dropped = 0;      // keys left out for lacking that prefix (e.g. "discriminator.*")
  std::vector<std::string> order;  // the file's order
  std::map<std::string, TensorRecord> tensors;
};

enum class ReadMode { Data, ShapesOnly };

// Reads a .pth or .safetensors checkpoint. The state dict is "state_dict" (mmediting/mmagic),
// else "params", else "params_ema" (BasicSR), else the top-level dict when all its values are
// tensors (a bare torch.save(model.state_dict())). When more than half of the keys start with
// "generator." those keys are kept with the prefix removed and the rest (a discriminator,
// counters) dropped; a "module." prefix on every key (DataParallel) is removed too.
// Throws reelscale::Error naming the file and what is wrong; never crashes on malformed input.
TensorTable read_checkpoint(const std::string& path, ReadMode mode = ReadMode::Data,
                            const CheckpointLimits& limits = {});
// The same on a whole file held in memory; `what` names it in errors (fuzzing, tests).
TensorTable read_checkpoint_bytes(std::string_view bytes, const std::string& what,
                                  ReadMode mode = ReadMode::Data, const CheckpointLimits& limits = {});

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::int64_t numel = 0;
};

struct CheckpointSummary {
  std::string path;
  CheckpointFormat format = CheckpointFormat::Pth;
  std::string source_key;
  std::string stripped_prefix;
  std::size_t dropped = 0;
  std::vector<TensorInfo> tensors;  // the file's order
  std::int64_t total_elements = 0;  // every tensor's element count, buffers included
};

// Names, dtypes and shapes, without copying tensor data (bounds are still validated).
CheckpointSummary summarize(const std::string& path);
CheckpointSummary summarize(const TensorTable& table, const std::string& path);

// The architecture a BasicVSR++ state dict was made for, read from its tensor shapes.
struct BasicVsrppArch {
  std::int64_t mid_channels = 0;  // feat_extract.main.0.weight shape[0]
  std::int64_t num_blocks = 0;    // residual blocks per propagation branch (backbone.*.main.2.N)
  std::int64_t num_reconstruction_blocks = 0;  // reconstruction.main.2.N (5 in the official model)
  bool low_res_input = true;      // feat_extract is ResidualBlocksWithInputConv (the 4x models)
  std::int64_t parameters = 0;    // total elements, SPyNet and its mean/std buffers included
};
// Throws reelscale::Error naming the file and the missing/inconsistent key when the state dict
// is not a BasicVSR++ generator.
BasicVsrppArch infer_basicvsrpp_arch(const CheckpointSummary& summary);

std::string shape_string(const std::vector<std::int64_t>& shape);  // "[32, 8, 7, 7]"

}  // namespace reelscale::model

#if defined(REELSCALE_HAVE_TORCH) && !defined(REELSCALE_CHECKPOINT_NO_TORCH)
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace reelscale::model {

// Tensors on the CPU; floating tensors are float32 (fp16/bf16/fp64 converted), integer and bool
// tensors keep their type.
struct StateDict {
  std::vector<std::string> order;
  std::map<std::string, at::Tensor> tensors;
};

StateDict load_state_dict(const std::string& path);
StateDict to_state_dict(const TensorTable& table);
at::Tensor to_tensor(const TensorRecord& record);  // as described for StateDict

// Copies every parameter and buffer of `module` (recursively named as state_dict() would) from
// `sd`, converting dtype and device to the module's. Strict: when any key is missing,
// unexpected or of the wrong shape, nothing is copied and one reelscale::Error lists them all,
// naming `path`.
void apply_state_dict(torch::nn::Module& module, const StateDict& sd, const std::string& path);

}  // namespace reelscale::model
#endif
