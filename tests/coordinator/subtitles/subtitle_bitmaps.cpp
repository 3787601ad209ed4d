#include "tests/coordinator/subtitles/subtitle_bitmaps.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>

// The bitmaps alone (OpenCV): subtitle_files.cpp writes the files that carry them.
namespace reelscale::subtitles {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  return lines;
}

}  // namespace

BitmapRect draw_rect(const Drawn& e) {
  const std::vector<std::string> lines = lines_of(e.text);
  // Hershey's italic glyphs exist for the complex face only (duplex | italic stays upright).
  const int font = e.italic ? cv::FONT_HERSHEY_COMPLEX | cv::FONT_ITALIC : cv::FONT_HERSHEY_DUPLEX, thick = 2;
  int base = 0, widest = 0;
  cv::Size one;
  for (const auto& l : lines) {
    one = cv::getTextSize(l, font, e.scale, thick, &base);
    widest = std::max(widest, one.width);
  }
  const int pad = 8, line_h = int(one.height * 1.9);
  const int w = (widest + 2 * pad + 1) & ~1, h = (line_h * int(lines.size()) + 2 * pad + 1) & ~1;
  cv::Mat idx(h, w, CV_8UC1, cv::Scalar(0));
  if (e.box_code > 0) idx.setTo(e.box_code);
  // Outline, then the anti-alias ring, then the text on top.
  const std::vector<std::pair<int, int>> passes = {{e.outline ? e.outline_code : -1, thick + 4},
                                                   {e.ring_code, thick + 2}, {e.text_code, thick}};
  for (const auto& [code, width] : passes) {
    if (code < 0) continue;
    for (size_t i = 0; i < lines.size(); ++i) {
      const cv::Size sz = cv::getTextSize(lines[i], font, e.scale, thick, &base);
      const cv::Point org((w - sz.width) / 2, pad + int(i) * line_h + one.height + (line_h - one.height) / 2 - 2);
      cv::putText(idx, lines[i], org, font, e.scale, cv::Scalar(code), width, cv::LINE_8);
      const size_t colon = lines[i].find(':');
      if (code == e.text_code && e.second_code > 0 && colon != std::string::npos)
        cv::putText(idx, lines[i].substr(0, colon + 1), org, font, e.scale, cv::Scalar(e.second_code), width, cv::LINE_8);
    }
  }
  BitmapRect r;
  r.x = (720 - w) / 2 & ~1;
  r.y = (480 - h) & ~1;
  r.w = w;
  r.h = h;
  r.indices.assign(idx.data, idx.data + size_t(w) * h);
  r.palette[size_t(e.text_code)] = e.fill;
  if (e.outline) r.palette[size_t(e.outline_code)] = e.outline;
  if (e.ring_code > 0) r.palette[size_t(e.ring_code)] = e.ring;
  if (e.box_code > 0) r.palette[size_t(e.box_code)] = e.box;
  if (e.second_code > 0) r.palette[size_t(e.second_code)] = e.second;
  return r;
}

const char* const kLines[6] = {"Where are you going tonight?", "Nobody saw the train arrive.", "I told you before.",
                              "The harbour was quiet.", "We leave at dawn, all of us.", "Keep the lights off."};

BitmapRect draw_pgs(const std::string& text, uint32_t seed) {
  const int font = cv::FONT_HERSHEY_DUPLEX, thick = 3;
  const double scale = 1.6;
  int base = 0;
  const cv::Size sz = cv::getTextSize(text, font, scale, thick, &base);
  const int w = sz.width + 24, h = sz.height + base + 24;
  cv::Mat fill(h, w, CV_8UC1, cv::Scalar(0)), edge(h, w, CV_8UC1, cv::Scalar(0));
  const cv::Point org(12, 12 + sz.height);
  cv::putText(edge, text, org, font, scale, cv::Scalar(255), thick + 5, cv::LINE_AA);
  cv::putText(fill, text, org, font, scale, cv::Scalar(255), thick, cv::LINE_AA);
  std::vector<uint32_t> colours;
  BitmapRect r;
  r.w = w, r.h = h;
  r.indices.resize(size_t(w) * h);
  std::vector<int> slot(256);
  std::iota(slot.begin(), slot.end(), 0);
  std::shuffle(slot.begin(), slot.end(), std::mt19937(seed));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      // Quantised so the palette stays under 256 entries: alpha from the outline, grey from the fill.
      const int a = edge.at<uint8_t>(y, x) / 16 * 17, g = fill.at<uint8_t>(y, x) / 16 * 17;
      const uint32_t argb = a == 0 ? 0u : (uint32_t(a) << 24) | uint32_t(g) * 0x010101u;
      auto it = std::find(colours.begin(), colours.end(), argb);
      if (it == colours.end()) it = colours.insert(colours.end(), argb);
      const int k = slot[size_t(it - colours.begin())];
      r.indices[size_t(y) * w + x] = uint8_t(k);
      r.palette[size_t(k)] = argb;
    }
  return r;
}

}  // namespace reelscale::subtitles
