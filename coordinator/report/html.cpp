#include "coordinator/report/html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "shared/util/text.hpp"

namespace reelscale::report {

std::string escape(std::string_view s) { return html_escape(s); }

std::string base64(std::string_view bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    out += k[v >> 18 & 63];
    out += k[v >> 12 & 63];
    out += k[v >> 6 & 63];
    out += k[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += k[v >> 18 & 63];
    out += k[v >> 12 & 63];
    out += i + 1 < bytes.size() ? k[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri(const std::string& mime, std::string_view bytes) {
  return "data:" + mime + ";base64," + base64(bytes);
}

std::string format_seconds(double s) {
  if (!std::isfinite(s)) return "-";
  const bool neg = s < 0;
  s = std::abs(s);
  auto ms = int64_t(std::llround(s * 1000));
  char buf[64];
  if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%s%.3f s", neg ? "-" : "", double(ms) / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%s%lld:%02lld:%02lld.%03lld", neg ? "-" : "", (long long)(ms / 3600000),
                  (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
  }
  return buf;
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string format_number(double v, int decimals) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

namespace {

std::string num(double v) { return format_number(v, 1); }

// A "nice" step for about n ticks over span.
double tick_step(double span, int n) {
  if (span <= 0) return 1;
  double raw = span / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

// As many decimals as the tick step needs (a 0.002 step must not print "0.01" three times).
std::string tick_label(double v, double step) {
  const int decimals = step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
  return format_number(v, decimals);
}

}  // namespace

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  const double ml = 56, mr = 12, mt = 10, mb = 34;
  const double pw = o.width - ml - mr, ph = o.height - mt - mb;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = 0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      if (std::isfinite(s.y[i])) y1 = std::max(y1, s.y[i]);
    }
  for (double y : o.y_lines) y1 = std::max(y1, y);
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (!std::isfinite(y1) || y1 <= y0) y1 = y0 + 1;
  y1 *= 1.05;
  auto X = [&](double x) { return ml + (x - x0) / (x1 - x0) * pw; };
  auto Y = [&](double y) { return mt + ph - (y - y0) / (y1 - y0) * ph; };

  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 " +
                    std::to_string(o.width) + " " + std::to_string(o.height) + "\" role=\"img\">";
  svg += "<rect class=\"plot\" x=\"" + num(ml) + "\" y=\"" + num(mt) + "\" width=\"" + num(pw) +
         "\" height=\"" + num(ph) + "\"/>";
  const double ys = tick_step(y1 - y0, 4);
  for (double y = y0; y <= y1 + 1e-9; y += ys)
    svg += "<line class=\"grid\" x1=\"" + num(ml) + "\" x2=\"" + num(ml + pw) + "\" y1=\"" + num(Y(y)) +
           "\" y2=\"" + num(Y(y)) + "\"/><text class=\"tick\" x=\"" + num(ml - 4) + "\" y=\"" +
           num(Y(y) + 4) + "\" text-anchor=\"end\">" + tick_label(y, ys) + "</text>";
  const double xs = tick_step(x1 - x0, 8);
  for (double x = std::ceil(x0 / xs) * xs; x <= x1 + 1e-9; x += xs)
    svg += "<text class=\"tick\" x=\"" + num(X(x)) + "\" y=\"" + num(mt + ph + 14) +
           "\" text-anchor=\"middle\">" + tick_label(x, xs) + "</text>";
  for (double x : o.x_marks)
    if (x >= x0 && x <= x1)
      svg += "<line class=\"mark\" x1=\"" + num(X(x)) + "\" x2=\"" + num(X(x)) + "\" y1=\"" + num(mt) +
             "\" y2=\"" + num(mt + ph) + "\"/>";
  for (const auto& s : series) {
    std::string path;
    bool pen = false;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        pen = false;
        continue;
      }
      path += (pen ? "L" : "M") + num(X(s.x[i])) + " " + num(Y(s.y[i]));
      pen = true;
    }
    if (!path.empty())
      svg += "<path class=\"series " + escape(s.css_class) + "\" d=\"" + path + "\"><title>" +
             escape(s.name) + "</title></path>";
  }
  for (size_t i = 0; i < o.y_lines.size(); ++i) {
    const double y = Y(o.y_lines[i]);
    svg += "<line class=\"threshold\" x1=\"" + num(ml) + "\" x2=\"" + num(ml + pw) + "\" y1=\"" + num(y) +
           "\" y2=\"" + num(y) + "\"/>";
    if (i < o.y_line_labels.size())
      svg += "<text class=\"tick threshold-label\" x=\"" + num(ml + pw - 4) + "\" y=\"" + num(y - 4) +
             "\" text-anchor=\"end\">" + escape(o.y_line_labels[i]) + "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + num(ml + pw / 2) + "\" y=\"" + num(o.height - 4.0) +
         "\" text-anchor=\"middle\">" + escape(o.x_label) + "</text>";
  svg += "<text class=\"axis\" transform=\"rotate(-90)\" x=\"" + num(-(mt + ph / 2)) + "\" y=\"12\" text-anchor=\"middle\">" +
         escape(o.y_label) + "</text>";
  return svg + "</svg>";
}

std::string axis_time_label(double t, double span, double step) {
  if (span < 60) return tick_label(t, step) + " s";
  const auto whole = int64_t(std::llround(t));
  char buf[48];
  if (span < 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(whole / 60), (long long)(whole % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(whole / 3600), (long long)(whole / 60 % 60),
                  (long long)(whole % 60));
  return buf;
}

std::string gantt_chart(const std::vector<Bar>& bars, double t0, double t1, int width) {
  std::vector<std::string> lanes;
  std::map<std::string, size_t> lane_of;
  for (const auto& b : bars)
    if (lane_of.emplace(b.lane, lanes.size()).second) lanes.push_back(b.lane);
  const double ml = 150, mr = 12, mt = 6, lane_h = 22, mb = 26;
  const double pw = width - ml - mr;
  const double height = mt + lane_h * double(std::max<size_t>(lanes.size(), 1)) + mb;
  if (t1 <= t0) t1 = t0 + 1;
  auto X = [&](double t) { return ml + (t - t0) / (t1 - t0) * pw; };
  std::string svg = "<svg class=\"chart gantt\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + num(height) + "\" role=\"img\">";
  for (size_t i = 0; i < lanes.size(); ++i) {
    const double y = mt + lane_h * double(i);
    svg += "<rect class=\"lane" + std::string(i % 2 ? " odd" : "") + "\" x=\"" + num(ml) + "\" y=\"" + num(y) +
           "\" width=\"" + num(pw) + "\" height=\"" + num(lane_h) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + num(ml - 6) + "\" y=\"" + num(y + lane_h * 0.68) +
           "\" text-anchor=\"end\">" + escape(lanes[i]) + "</text>";
  }
  for (const auto& b : bars) {
    const double y = mt + lane_h * double(lane_of[b.lane]) + 3;
    const double x = X(b.start), w = std::max(X(b.end) - x, 1.5);
    svg += "<rect class=\"bar " + escape(b.css_class) + "\" x=\"" + num(x) + "\" y=\"" + num(y) +
           "\" width=\"" + num(w) + "\" height=\"" + num(lane_h - 6) + "\"><title>" + escape(b.label) +
           "</title></rect>";
  }
  const double ts = tick_step(t1 - t0, 8), ty = mt + lane_h * double(std::max<size_t>(lanes.size(), 1)) + 16;
  for (double t = 0; t0 + t <= t1 + 1e-9; t += ts) {
    // A label whose middle would overhang the right edge ends there instead of being clipped.
    const bool last = X(t0 + t) + 30 > width;
    svg += "<text class=\"tick\" x=\"" + num(last ? width - 2 : X(t0 + t)) + "\" y=\"" + num(ty) +
           "\" text-anchor=\"" + (last ? "end" : "middle") + "\">" + axis_time_label(t, t1 - t0, ts) + "</text>";
  }
  return svg + "</svg>";
}

std::string strip_chart(const std::vector<Span>& spans, double total, int width, int height) {
  if (total <= 0) total = 1;
  std::string svg = "<svg class=\"chart strip\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) + "\" preserveAspectRatio=\"none\" role=\"img\">";
  for (const auto& s : spans) {
    const double x = s.start / total * width, w = std::max((s.end - s.start) / total * width, 0.5);
    svg += "<rect class=\"span " + escape(s.css_class) + "\" x=\"" + format_number(x, 2) + "\" y=\"0\" width=\"" +
           format_number(w, 2) + "\" height=\"" + std::to_string(height) + "\"><title>" + escape(s.label) +
           "</title></rect>";
  }
  return svg + "</svg>";
}

}  // namespace reelscale::report
