#include "worker/model/cudnn_fusion.hpp"

#include <atomic>

#if defined(REELSCALE_HAVE_CUDA) && __has_include(<cudnn_backend.h>)
#define REELSCALE_HAVE_CUDNN_BACKEND 1
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cudnn_backend.h>
#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
#endif

namespace reelscale::model::cudnn_fusion {
namespace {
std::atomic<bool> g_enabled{true};
std::atomic<bool> g_leaky_relu{true};
std::atomic<bool> g_conv_offset{true};
std::atomic<int64_t> g_runs{0};
thread_local int t_offset_depth = 0;
}  // namespace

void set_conv_offset(bool on) { g_conv_offset = on; }
OffsetScope::OffsetScope() { ++t_offset_depth; }
OffsetScope::~OffsetScope() { --t_offset_depth; }

void set_enabled(bool on) { g_enabled = on; }
void set_leaky_relu(bool on) { g_leaky_relu = on; }
bool enabled() { return g_enabled; }
int64_t runs() { return g_runs; }

#ifndef REELSCALE_HAVE_CUDNN_BACKEND

at::Tensor conv3x3(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, const at::Tensor&) {
  return {};
}

#else

namespace {

// The cuDNN entry points, taken from the libcudnn.so.9 LibTorch already loaded (RTLD_NOLOAD):
// no link-time dependency, and the same library (and version) ATen's convolutions use.
struct Api {
  decltype(&cudnnCreate) create = nullptr;
  decltype(&cudnnSetStream) set_stream = nullptr;
  decltype(&cudnnBackendCreateDescriptor) create_desc = nullptr;
  decltype(&cudnnBackendDestroyDescriptor) destroy_desc = nullptr;
  decltype(&cudnnBackendSetAttribute) set_attr = nullptr;
  decltype(&cudnnBackendGetAttribute) get_attr = nullptr;
  decltype(&cudnnBackendFinalize) finalize = nullptr;
  decltype(&cudnnBackendExecute) execute = nullptr;
};

const Api* api() {
  static const Api* loaded = [] () -> const Api* {
    void* lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_NOLOAD);
    if (!lib) lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    static Api a;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      return fn != nullptr;
    };
    const bool ok = sym(a.create, "cudnnCreate") && sym(a.set_stream, "cudnnSetStream") &&
                    sym(a.create_desc, "cudnnBackendCreateDescriptor") &&
                    sym(a.destroy_desc, "cudnnBackendDestroyDescriptor") &&
                    sym(a.set_attr, "cudnnBackendSetAttribute") && sym(a.get_attr, "cudnnBackendGetAttribute") &&
                    sym(a.finalize, "cudnnBackendFinalize") && sym(a.execute, "cudnnBackendExecute");
    return ok ? &a : nullptr;
  }();
  return loaded;
}

// One backend descriptor, destroyed with its owner.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t type) {
    if (api()->create_desc(type, &d_) != CUDNN_STATUS_SUCCESS) d_ = nullptr;
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (d_) api()->destroy_desc(d_);
  }
  cudnnBackendDescriptor_t get() const { return d_; }
  // Every set and the finalize report into ok_: a graph is used only if all of them succeeded.
  template <typename V>
  Desc& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count, const V* values) {
    ok_ = ok_ && d_ && api()->set_attr(d_, name, type, count, values) == CUDNN_STATUS_SUCCESS;
    return *this;
  }
  Desc& set(cudnnBackendAttributeName_t name, const Desc& other) {
    const cudnnBackendDescriptor_t v = other.get();
    ok_ = ok_ && other.ok();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v);
  }
  Desc& finalize() {
    ok_ = ok_ && d_ && api()->finalize(d_) == CUDNN_STATUS_SUCCESS;
    return *this;
  }
  bool ok() const { return ok_ && d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  bool ok_ = true;
};
using DescPtr = std::unique_ptr<Desc>;

// The deprecated-by-name handle attributes (cuDNN 9.x still requires them).
constexpr auto kGraphHandle = static_cast<cudnnBackendAttributeName_t>(800);
constexpr auto kPlanHandle = static_cast<cudnnBackendAttributeName_t>(400);

enum Uid : int64_t { kX = 1, kW, kB, kZ, kY, kVirtual = 100 };

struct Layout {
  std::array<int64_t, 4> dims{}, strides{};
};

DescPtr tensor(int64_t uid, cudnnDataType_t type, const Layout& l, bool is_virtual) {
  auto t = std::make_unique<Desc>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t alignment = 16;
  const bool v = is_virtual;
  t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, l.dims.data())
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, l.strides.data())
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment)
      .set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v)
      .finalize();
  return t;
}

// A (n, c, h, w) map's layout from its sizes and strides (channels-last: stride(1) == 1).
Layout layout_of(const at::Tensor& t) {
  Layout l;
  for (int i = 0; i < 4; ++i) {
    l.dims[i] = t.size(i);
    l.strides[i] = t.stride(i);
  }
  return l;
}

Layout packed_nhwc(int64_t n, int64_t c, int64_t h, int64_t w) {
  return {{n, c, h, w}, {h * w * c, 1, w * c, c}};
}

// What one cached graph was built for; everything that changes the plan is in the key.
struct Shape {
  Layout x, w, z;
  bool has_z = false;
  double slope = 1.0;
  cudnnDataType_t type = CUDNN_DATA_HALF;
  int device = 0;

  std::string key() const {
    std::string k;
    for (const Layout* l : {&x, &w, &z})
      for (int i = 0; i < 4; ++i) k += std::to_string(l->dims[i]) + "," + std::to_string(l->strides[i]) + ";";
    char tail[96];
    std::snprintf(tail, sizeof tail, "z%d s%.17g t%d d%d", has_z ? 1 : 0, slope, static_cast<int>(type), device);
    return k + tail;
  }
};

struct Plan {
  std::vector<DescPtr> keep;  // every descriptor the plan was built from, alive with it
  const Desc* plan = nullptr;
  int64_t workspace = 0;
  bool ok = false;
};

DescPtr pointwise(cudnnPointwiseMode_t mode, double slope = 0.0) {
  auto pw = std::make_unique<Desc>(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  pw->set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
  if (mode == CUDNN_POINTWISE_RELU_FWD) pw->set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &slope);
  pw->finalize();
  return pw;
}

DescPtr pointwise_op(const Desc& pw, const Desc& x, const Desc* b, const Desc& y) {
  auto op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op->set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw).set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
  if (b) op->set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op->set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y).finalize();
  return op;
}

// conv -> +bias -> [leaky_relu] -> [+z]: every intermediate a float virtual tensor.
Plan build(cudnnHandle_t handle, const Shape& s) {
  Plan p;
  auto keep = [&](DescPtr d) -> const Desc& {
    p.keep.push_back(std::move(d));
    return *p.keep.back();
  };
  const int64_t n = s.x.dims[0], cout = s.w.dims[0], h = s.x.dims[2], w = s.x.dims[3];
  const Layout out = packed_nhwc(n, cout, h, w);
  const Layout bias{{1, cout, 1, 1}, {cout, 1, cout, cout}};
  const Desc& x = keep(tensor(kX, s.type, s.x, false));
  const Desc& wt = keep(tensor(kW, s.type, s.w, false));
  const Desc& b = keep(tensor(kB, s.type, bias, false));
  const Desc& y = keep(tensor(kY, s.type, out, false));
  const bool act = s.slope != 1.0;
  int64_t next_virtual = kVirtual;
  auto inner = [&](bool last) -> const Desc& {
    return last ? y : keep(tensor(next_virtual++, CUDNN_DATA_FLOAT, out, true));
  };

  auto conv_desc = std::make_unique<Desc>(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t dims = 2;
  const std::array<int64_t, 2> one{1, 1};
  conv_desc->set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims)
      .set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one.data())
      .set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, one.data())
      .set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, one.data())
      .set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, one.data())
      .finalize();
  const Desc& cd = keep(std::move(conv_desc));

  const Desc& conv_out = inner(false);
  auto conv_op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  const float alpha = 1.f, beta = 0.f;
  conv_op->set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, wt)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, conv_out)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, cd)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha)
      .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta)
      .finalize();
  std::vector<const Desc*> ops{&keep(std::move(conv_op))};

  const Desc& biased = inner(!act && !s.has_z);
  ops.push_back(&keep(pointwise_op(keep(pointwise(CUDNN_POINTWISE_ADD)), conv_out, &b, biased)));
  const Desc* last = &biased;
  if (act) {
    const Desc& activated = inner(!s.has_z);
    ops.push_back(&keep(pointwise_op(keep(pointwise(CUDNN_POINTWISE_RELU_FWD, s.slope)), *last, nullptr, activated)));
    last = &activated;
  }
  if (s.has_z) {
    const Desc& z = keep(tensor(kZ, s.type, s.z, false));
    ops.push_back(&keep(pointwise_op(keep(pointwise(CUDNN_POINTWISE_ADD)), *last, &z, y)));
  }
  for (const DescPtr& d : p.keep)
    if (!d->ok()) return p;

  std::vector<cudnnBackendDescriptor_t> raw_ops;
  for (const Desc* op : ops) raw_ops.push_back(op->get());
  auto graph = std::make_unique<Desc>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw_ops.size()),
             raw_ops.data())
      .set(kGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle)
      .finalize();
  const Desc& g = keep(std::move(graph));
  if (!g.ok()) return p;

  auto heur = std::make_unique<Desc>(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_INSTANT;
  heur->set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g)
      .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode)
      .finalize();
  const Desc& hd = keep(std::move(heur));
  int64_t count = 0;
  if (!hd.ok() ||
      api()->get_attr(hd.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr) !=
          CUDNN_STATUS_SUCCESS ||
      count <= 0)
    return p;
  std::vector<DescPtr> cfgs;
  std::vector<cudnnBackendDescriptor_t> raw_cfgs;
  for (int64_t i = 0; i < count; ++i) {
    cfgs.push_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw_cfgs.push_back(cfgs.back()->get());
  }
  int64_t got = 0;
  if (api()->get_attr(hd.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got,
                      raw_cfgs.data()) != CUDNN_STATUS_SUCCESS)
    return p;
  // The first configuration that finalizes into a plan, in the heuristic's order: a fixed choice
  // per GPU model and cuDNN version (issue 19's reproducible bits), no timing.
  constexpr int64_t kMaxWorkspace = int64_t(256) << 20;
  for (int64_t i = 0; i < got; ++i) {
    auto plan = std::make_unique<Desc>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    plan->set(kPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle)
        .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw_cfgs[i])
        .finalize();
    int64_t ws = 0, ws_count = 0;
    if (!plan->ok() || api()->get_attr(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                       &ws_count, &ws) != CUDNN_STATUS_SUCCESS)
      continue;
    if (ws > kMaxWorkspace) continue;
    p.workspace = ws;
    p.plan = &keep(std::move(plan));
    for (auto& c : cfgs) p.keep.push_back(std::move(c));
    p.ok = true;
    return p;
  }
  return p;
}

// One handle per thread and device, created on first use. Never destroyed: a handle's
// destruction at thread or process exit can run after the CUDA context is gone (ATen keeps
// its handles alive for the same reason).
cudnnHandle_t handle_for(int device) {
  thread_local std::unordered_map<int, cudnnHandle_t> handles;
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  cudnnHandle_t h = nullptr;
  if (api()->create(&h) != CUDNN_STATUS_SUCCESS) h = nullptr;
  handles.emplace(device, h);
  return h;
}

bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

// Channels-last (n, c, h, w) with a pixel stride of whole 16-byte vectors.
bool nhwc_ok(const at::Tensor& t) {
  if (t.dim() != 4 || t.stride(1) != 1 || !aligned16(t)) return false;
  const int64_t ld = t.stride(3);
  return ld >= t.size(1) && ld % 8 == 0 && t.size(1) % 8 == 0 && (t.size(2) == 1 || t.stride(2) == t.size(3) * ld);
}

}  // namespace

at::Tensor conv3x3(const at::Tensor& x, const at::Tensor& weight_in, const at::Tensor& bias_in, double slope,
                   const at::Tensor& residual) {
  if (!g_enabled || !x.is_cuda() || !bias_in.defined() || (!g_leaky_relu && !residual.defined()) ||
      (t_offset_depth > 0 && !g_conv_offset) || !api())
    return {};
  const auto dtype = x.scalar_type();
  if (dtype != at::kHalf && dtype != at::kBFloat16) return {};
  if (weight_in.dim() != 4 || weight_in.size(1) != x.size(1) || weight_in.size(2) != 3 || weight_in.size(3) != 3)
    return {};
  if (!nhwc_ok(x) || (residual.defined() && (!nhwc_ok(residual) || residual.scalar_type() != dtype))) return {};
  const int64_t n = x.size(0), cout = weight_in.size(0), h = x.size(2), w = x.size(3);
  if (residual.defined() && (residual.size(0) != n || residual.size(1) != cout || residual.size(2) != h ||
                             residual.size(3) != w))
    return {};
  const at::Tensor weight = weight_in.to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor bias = bias_in.to(x.device(), dtype).contiguous();
  if (cout % 8 != 0 || !aligned16(weight) || !aligned16(bias)) return {};

  const c10::cuda::CUDAGuard guard(x.device());
  Shape s;
  s.x = layout_of(x);
  s.w = layout_of(weight);
  s.has_z = residual.defined();
  if (s.has_z) s.z = layout_of(residual);
  s.slope = slope;
  s.type = dtype == at::kHalf ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
  s.device = static_cast<int>(x.get_device());
  const cudnnHandle_t handle = handle_for(s.device);
  if (!handle) return {};
  thread_local std::unordered_map<std::string, Plan> plans;
  const std::string key = s.key();
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, build(handle, s)).first;
  const Plan& plan = it->second;
  if (!plan.ok) return {};

  at::Tensor y = at::empty({n, cout, h, w}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  at::Tensor workspace;
  if (plan.workspace > 0) workspace = at::empty({plan.workspace}, x.options().dtype(at::kByte));
  void* ws_ptr = plan.workspace > 0 ? workspace.data_ptr() : nullptr;
  std::vector<int64_t> uids{kX, kW, kB, kY};
  std::vector<void*> ptrs{x.data_ptr(), weight.data_ptr(), bias.data_ptr(), y.data_ptr()};
  if (s.has_z) {
    uids.push_back(kZ);
    ptrs.push_back(residual.data_ptr());
  }
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, static_cast<int64_t>(uids.size()), uids.data())
      .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, static_cast<int64_t>(ptrs.size()), ptrs.data())
      .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws_ptr)
      .finalize();
  if (!pack.ok() || api()->set_stream(handle, c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(s.device)).stream()) !=
                        CUDNN_STATUS_SUCCESS)
    return {};
  if (api()->execute(handle, plan.plan->get(), pack.get()) != CUDNN_STATUS_SUCCESS) return {};
  ++g_runs;
  return y;
}

#endif

}  // namespace reelscale::model::cudnn_fusion
