#pragma once
// The real SegmentSource: cuts each shard's segment out of the film by packet copy
// (shared/media/source_segment.hpp). Header-only: only the `reelscale` binary links the media
// stack. Also decides the film's preprocessing plan once, which stream-mode workers must be
// given (a segment alone would decide crop and deinterlacing from a few seconds of film).
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "coordinator/dispatch/segment_source.hpp"
#include "shared/config/config.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/media/source_segment.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::dispatch {

// The film's preprocessing plan (crop, deinterlacing, matrix), decided once here, as `assign`
// carries it. Shared-storage workers could decide it themselves from the same film, but each
// would repeat the analysis for every shard (interlace detection over samples of the whole
// film) and say so in a warning; one decision also keeps every shard filtered alike.
// `index_cache`: where the film's frame index is kept for the workers (see
// media::frame_index_cache_path); "" = none.
inline media::PreprocessPlan film_preprocess_plan(const std::string& film, const config::Preprocess& preprocess,
                                                  const std::string& index_cache = "") {
  media::VideoReaderOptions ro;
  ro.allow_vfr = preprocess.vfr == config::Vfr::convert;  // as the worker's decoder opens it
  ro.index_cache = index_cache;
  media::VideoReader reader(film, ro);
  return media::plan_preprocess(preprocess, reader);
}

class MediaSegmentSource : public SegmentSource {
 public:
  // `index_cache` as film_preprocess_plan's: both opens of the film share one scan.
  MediaSegmentSource(const std::string& film, const config::Preprocess& preprocess,
                     const std::string& index_cache = "") {
    if (preprocess.vfr == config::Vfr::convert)
      throw ConfigError("storage.mode: stream cannot ship a variable-frame-rate film converted on the "
                        "fly (preprocess.vfr: convert); convert it first, or use storage.mode: shared");
    plan_ = film_preprocess_plan(film, preprocess, index_cache);
    extractor_ = std::make_unique<media::SegmentExtractor>(film, index_cache);
  }
  // With the plan already decided (run_job decides it before the shard plan, which counts
  // its output frames).
  MediaSegmentSource(const std::string& film, media::PreprocessPlan plan, const std::string& index_cache)
      : plan_(std::move(plan)), extractor_(std::make_unique<media::SegmentExtractor>(film, index_cache)) {}

  const media::PreprocessPlan& plan() const { return plan_; }
  // The plan as the `assign` message carries it.
  std::string preprocess_json() const { return media::to_json(plan_).dump(); }

  SegmentFile make(const ledger::ShardSpec& shard, const std::filesystem::path& out) override {
    // The shard's frames are output frames: ship the decoded frames the worker will push
    // (plan.decode_range: the deinterlacers' frame either side, decimate's cycle before).
    const int64_t n = extractor_->info().frame_count;
    auto [first, end] = plan_.decode_range(shard.context_begin, shard.context_end, n);
    if (!plan_.renumbers()) first = std::max<int64_t>(0, first - 2);  // a frame mapping needs its group start
    const int64_t last = std::min<int64_t>(n - 1, end - 1 + 2);
    media::SourceSegment s = extractor_->extract(first, last, out);
    // The segment may start earlier (frames whose packets it must hold); a frame mapping
    // counts from a group start, so widen it to one.
    while (plan_.renumbers() && s.first_frame % plan_.map_in != 0)
      s = extractor_->extract(s.first_frame / plan_.map_in * plan_.map_in, last, out);
    // Its first frame in the shard's numbering (a group start maps exactly).
    return {s.path, plan_.output_frame(s.first_frame), s.bytes, s.checksum};
  }

 private:
  media::PreprocessPlan plan_;
  std::unique_ptr<media::SegmentExtractor> extractor_;
};

}  // namespace reelscale::dispatch
