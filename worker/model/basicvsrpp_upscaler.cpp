#include "worker/model/basicvsrpp_upscaler.hpp"

#include "shared/util/errors.hpp"
#include "worker/model/runner.hpp"

namespace reelscale {
namespace {

class BasicVsrppUpscaler final : public Upscaler {
 public:
  BasicVsrppUpscaler(const std::string& checkpoint, const model::RuntimeOptions& opts)
      : runner_(checkpoint, opts) {}
  std::string name() const override {
    const auto i = runner_.info();
    return "basicvsrpp(c" + std::to_string(i.mid_channels) + "n" + std::to_string(i.num_blocks) + ", " +
           runner_.device() + ", " + runner_.precision() + ")";
  }
  int scale() const override { return 4; }
  void upscale(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) override {
    runner_.run(chunk, emit_begin, emit_end, sink);
  }
  const model::BasicVsrppRunner& runner() const { return runner_; }

 private:
  model::BasicVsrppRunner runner_;
};

}  // namespace

std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const config::Model& cfg, std::vector<std::string>* notes) {
  if (cfg.checkpoint.empty()) throw ConfigError("model.checkpoint: the basicvsrpp backend needs a checkpoint");
  model::RuntimeOptions opts;
  opts.precision = cfg.precision;
  opts.device = cfg.device;
  opts.tf32 = cfg.tf32;
  opts.deterministic = cfg.deterministic;
  auto up = std::make_unique<BasicVsrppUpscaler>(cfg.checkpoint, opts);
  if (notes) {
    notes->push_back("basicvsrpp: " + up->name());
    for (const auto& n : up->runner().notes()) notes->push_back("basicvsrpp: " + n);
  }
  return up;
}

}  // namespace reelscale
