// The LibTorch layer of checkpoint.hpp: tensors from the torch-free reader's records, and
// strict loading into a module. Built only into rs_model (the torch-free reader is rs_checkpoint,
// which the executable links for preflight's check without LibTorch).
#include "worker/model/checkpoint.hpp"

#include <cstring>
#include <set>
#include <sstream>

#include "shared/util/errors.hpp"

#if defined(REELSCALE_HAVE_TORCH)
#include <torch/torch.h>

namespace reelscale::model {

namespace {
c10::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::Bool: return at::kBool;
  }
  return at::kFloat;
}

std::string sizes_string(at::IntArrayRef s) { return shape_string(std::vector<std::int64_t>(s.begin(), s.end())); }
}  // namespace

at::Tensor to_tensor(const TensorRecord& r) {
  at::Tensor t = at::empty(r.shape, at::TensorOptions().dtype(scalar_type(r.dtype)).device(at::kCPU));
  if (static_cast<std::size_t>(t.nbytes()) != r.data.size())
    throw Error("tensor of shape " + shape_string(r.shape) + " has " + std::to_string(r.data.size()) +
                " data bytes, expected " + std::to_string(t.nbytes()) + " (was it read in ShapesOnly mode?)");
  if (!r.data.empty()) std::memcpy(t.data_ptr(), r.data.data(), r.data.size());
  if (dtype_is_floating(r.dtype) && r.dtype != DType::F32) t = t.to(at::kFloat);
  return t;
}

StateDict to_state_dict(const TensorTable& table) {
  StateDict sd;
  sd.order = table.order;
  for (const auto& name : table.order) sd.tensors.emplace(name, to_tensor(table.tensors.at(name)));
  return sd;
}

StateDict load_state_dict(const std::string& path) { return to_state_dict(read_checkpoint(path)); }

void apply_state_dict(torch::nn::Module& module, const StateDict& sd, const std::string& path) {
  // Parameters and persistent buffers, named as the module's state_dict() would name them.
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) targets.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) targets.emplace_back(b.key(), b.value());

  std::vector<std::string> missing, wrong;
  std::set<std::string> expected;
  for (const auto& [name, t] : targets) {
    expected.insert(name);
    auto it = sd.tensors.find(name);
    if (it == sd.tensors.end())
      missing.push_back(name);
    else if (!it->second.sizes().equals(t.sizes()))
      wrong.push_back(name + ": network expects " + sizes_string(t.sizes()) + ", checkpoint has " +
                      sizes_string(it->second.sizes()));
  }
  std::vector<std::string> unexpected;
  for (const auto& kv : sd.tensors)
    if (!expected.count(kv.first)) unexpected.push_back(kv.first);

  if (!missing.empty() || !unexpected.empty() || !wrong.empty()) {
    std::ostringstream msg;
    msg << path << ": checkpoint does not match the network";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      msg << "\n  " << v.size() << ' ' << what << ':';
      for (const auto& s : v) msg << "\n    " << s;
    };
    list("missing keys (in the network, not in the checkpoint)", missing);
    list("unexpected keys (in the checkpoint, not in the network)", unexpected);
    list("keys with the wrong shape", wrong);
    throw Error(msg.str());
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, t] : targets) t.copy_(sd.tensors.at(name));
}

}  // namespace reelscale::model
#endif
