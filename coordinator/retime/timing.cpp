#include <cstdio>
#include <numeric>

#include "coordinator/retime/retime.hpp"
#include "shared/media/input_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::retime {

Rational time_factor(Rational source_fps, Rational target_fps) {
  if (source_fps.num <= 0 || source_fps.den <= 0 || target_fps.num <= 0 || target_fps.den <= 0)
    throw Error("retime: frame rates must be positive (source " + std::to_string(source_fps.num) + "/" +
                std::to_string(source_fps.den) + ", target " + std::to_string(target_fps.num) + "/" +
                std::to_string(target_fps.den) + ")");
  // (sn/sd) / (tn/td) = sn*td / (sd*tn)
  int64_t num = source_fps.num * target_fps.den, den = source_fps.den * target_fps.num;
  const int64_t g = std::gcd(num, den);
  return {num / g, den / g};
}

void check_speed_change(Rational source_fps, Rational target_fps) {
  const Rational f = time_factor(source_fps, target_fps);
  const double speed = double(f.num) / double(f.den);  // > 1: the film plays slower
  if (speed <= 1.1 && speed >= 1.0 / 1.1) return;
  auto rate = [](Rational r) {
    return r.den == 1 ? std::to_string(r.num) : std::to_string(r.num) + "/" + std::to_string(r.den);
  };
  char how[64];
  std::snprintf(how, sizeof how, "%.2fx %s", speed > 1 ? speed : 1 / speed, speed > 1 ? "slower" : "faster");
  throw ConfigError("retime: " + rate(source_fps) + " -> " + rate(target_fps) + " fps would play the film " + how +
                    "; retiming undoes a PAL speed-up (25 -> 24). Set retime.source_fps if the stream's rate "
                    "is wrong, or retime.enabled: false to keep the source's rate");
}

int64_t rescale_exact(int64_t t, Rational ratio) {
  if (ratio.den <= 0 || ratio.num < 0) throw Error("retime: invalid ratio");
  // av_rescale_rnd computes with 128-bit precision; NEAR_INF rounds halves away from zero.
  return av_rescale_rnd(t, ratio.num, ratio.den, AV_ROUND_NEAR_INF);
}

int64_t retime_ms(int64_t t_ms, Rational ratio) { return rescale_exact(t_ms, ratio); }

std::vector<srt::SubtitleEvent> retime_events(const std::vector<srt::SubtitleEvent>& events, Rational ratio) {
  std::vector<srt::SubtitleEvent> out = events;
  for (auto& e : out) {
    e.start_ms = retime_ms(e.start_ms, ratio);
    e.end_ms = retime_ms(e.end_ms, ratio);
  }
  return out;
}

std::string retime_srt(std::string_view srt_text, Rational ratio, const std::string& name) {
  return srt::write_srt(retime_events(srt::parse_srt(srt_text, name), ratio));
}

std::vector<Chapter> retime_chapters(const std::vector<Chapter>& chapters, Rational ratio) {
  std::vector<Chapter> out = chapters;
  for (auto& c : out) {
    c.start_ms = retime_ms(c.start_ms, ratio);
    c.end_ms = retime_ms(c.end_ms, ratio);
  }
  return out;
}

std::vector<Chapter> read_chapters(const std::filesystem::path& file) {
  const media::InputFile in(file);
  std::vector<Chapter> out;
  const AVRational ms{1, 1000};
  for (unsigned i = 0; i < in.context()->nb_chapters; ++i) {
    const AVChapter* c = in.context()->chapters[i];
    Chapter ch;
    ch.start_ms = av_rescale_q(c->start, c->time_base, ms);
    ch.end_ms = av_rescale_q(c->end, c->time_base, ms);
    if (const AVDictionaryEntry* t = av_dict_get(c->metadata, "title", nullptr, 0)) ch.title = t->value;
    out.push_back(std::move(ch));
  }
  return out;
}

}  // namespace reelscale::retime
