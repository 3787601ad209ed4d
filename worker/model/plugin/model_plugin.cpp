// libreelscale_model.so's entry point: the table of model_api.hpp over worker/model's
// functions. The exported symbol is the only one the executable looks up.
#include "worker/model/model_api.hpp"

extern "C" __attribute__((visibility("default"))) const reelscale::model::ModelApi* reelscale_model_api_v1() {
  using namespace reelscale;
  static const model::ModelApi api = [] {
    model::ModelApi a;
    a.make_upscaler = [](const config::Model& cfg, std::vector<std::string>* notes) {
      return make_basicvsrpp_upscaler(cfg, notes);
    };
    a.make_backend = [](const BasicVsrppBackendOptions& o, std::vector<std::string>* notes) {
      return make_basicvsrpp_upscaler(o, notes);
    };
    a.summarize = [](const std::string& path) { return model::summarize(path); };
    a.infer_arch = &model::infer_basicvsrpp_arch;
    a.format_name = &model::format_name;
    a.infer_npy = &model::infer_npy;
    a.bench_model = &model::bench_model;
    a.format_bench = &model::format_bench;
    a.bench_json = &model::bench_json;
    return a;
  }();
  return &api;
}
