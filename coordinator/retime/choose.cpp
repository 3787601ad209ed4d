#include <cmath>

#include "coordinator/retime/retime.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::retime {
namespace {

std::string rate_text(Rational r) {
  return r.den == 1 ? std::to_string(r.num) : std::to_string(r.num) + "/" + std::to_string(r.den);
}

bool within_ten_percent(Rational a, Rational b) {
  const Rational f = time_factor(a, b);
  const double speed = double(f.num) / double(f.den);
  return speed <= 1.1 && speed >= 1.0 / 1.1;
}

}  // namespace

RetimeChoice choose_retime(const config::Retime& cfg, Rational rate, const std::string& kind) {
  const std::string what = (kind.empty() ? std::string("source") : kind) + " at " + rate_text(rate) + " fps";
  if (!cfg.enabled) return {rate, rate, what + ": retime.enabled is false, delivered at its rate"};
  if (cfg.source_fps) {
    const Rational source = *cfg.source_fps;
    check_speed_change(source, cfg.target_fps);
    return {source, cfg.target_fps,
            "retime.source_fps " + rate_text(source) + " -> " + rate_text(cfg.target_fps) + " fps (as configured)"};
  }
  const Rational film{24, 1}, ntsc_film{24000, 1001};
  if (rate == ntsc_film && cfg.target_fps == film) {
    if (cfg.ntsc_film == config::NtscFilm::show_at_24)
      return {rate, film, "NTSC film at 24000/1001 fps -> 24 fps (retime.ntsc_film: 24; audio 0.1% faster)"};
    return {rate, rate, "NTSC film at 24000/1001 fps: not retimed (already film speed; retime.ntsc_film: 24 "
                        "shows it at 24.000 fps)"};
  }
  if (within_ten_percent(rate, cfg.target_fps))
    return {rate, cfg.target_fps, what + " -> " + rate_text(cfg.target_fps) + " fps"};
  if (!(cfg.target_fps == film)) check_speed_change(rate, cfg.target_fps);  // asked for explicitly: absurd
  return {rate, rate, what + ": not film speed, delivered at its rate (not retimed to " +
                          rate_text(cfg.target_fps) + " fps)"};
}

}  // namespace reelscale::retime
