#include "coordinator/subtitles/ocr_prepare.hpp"

#include <algorithm>
#include <bitset>

#include <opencv2/imgproc.hpp>

namespace reelscale::subtitles {
namespace {
constexpr uint32_t kOpaque = 0x40;  // alpha above this counts as drawn
bool opaque(const BitmapRect& r, uint8_t idx) { return (r.palette[idx] >> 24) > kOpaque; }

using IndexSet = std::bitset<256>;

// Per opaque index: its pixel count and how many of them touch a transparent pixel.
struct IndexStats {
  std::array<int64_t, 256> count{}, edge{};
  int64_t total = 0;
};

IndexStats index_stats(const BitmapRect& r) {
  IndexStats s;
  for (int y = 0; y < r.h; ++y) {
    for (int x = 0; x < r.w; ++x) {
      const uint8_t i = r.indices[size_t(y) * r.w + x];
      if (!opaque(r, i)) continue;
      ++s.count[i];
      ++s.total;
      bool touches = false;
      for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
        const int nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= r.w || ny >= r.h) continue;  // the rect's border is no evidence
        if (!opaque(r, r.indices[size_t(ny) * r.w + nx])) touches = true;
      }
      s.edge[i] += touches;
    }
  }
  return s;
}

// The share of index `c`'s pixels with a 4-neighbour of index `t`.
double touch_share(const BitmapRect& r, uint8_t c, uint8_t t) {
  int64_t count = 0, touching = 0;
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) {
      if (r.indices[size_t(y) * r.w + x] != c) continue;
      ++count;
      bool touches = false;
      for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
        const int nx = x + dx, ny = y + dy;
        if (nx >= 0 && ny >= 0 && nx < r.w && ny < r.h && r.indices[size_t(ny) * r.w + nx] == t) touches = true;
      }
      touching += touches;
    }
  return count == 0 ? 0 : double(touching) / double(count);
}

// Ignore specks: a colour with under 3% of the drawn pixels is anti-aliasing or noise.
bool sizeable(const IndexStats& s, int i) { return s.count[size_t(i)] > 0 && s.count[size_t(i)] * 33 >= s.total; }

// Black where the pixel's index is in `text`, upscaled and re-binarised.
cv::Mat render_mask(const BitmapRect& r, const IndexSet& text, int scale, int pad) {
  cv::Mat img(r.h + 2 * pad, r.w + 2 * pad, CV_8UC1, cv::Scalar(255));
  int drawn = 0;
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x)
      if (text[r.indices[size_t(y) * r.w + x]]) {
        img.at<uint8_t>(y + pad, x + pad) = 0;
        ++drawn;
      }
  if (drawn == 0) return {};
  // Upscale smoothly, then threshold: blocky DVD pixels become clean strokes at a size
  // (x-height ~30 px) that Tesseract's LSTM models were trained on.
  cv::Mat big;
  cv::resize(img, big, cv::Size(), scale, scale, cv::INTER_CUBIC);
  cv::GaussianBlur(big, big, cv::Size(3, 3), 0);
  cv::threshold(big, big, 128, 255, cv::THRESH_BINARY);
  return big;
}

double luminance(uint32_t argb) {
  return 0.299 * ((argb >> 16) & 0xFF) + 0.587 * ((argb >> 8) & 0xFF) + 0.114 * (argb & 0xFF);
}

// The bitmap alpha-blended onto a black or white page, as a player shows it; text ends up
// black on white (the black page is inverted), binarised by Otsu after upscaling.
cv::Mat render_flattened(const BitmapRect& r, bool onto_white, int scale, int pad) {
  cv::Mat img(r.h + 2 * pad, r.w + 2 * pad, CV_8UC1, cv::Scalar(onto_white ? 255 : 0));
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) {
      const uint32_t c = r.palette[r.indices[size_t(y) * r.w + x]];
      const double a = double(c >> 24) / 255.0;
      img.at<uint8_t>(y + pad, x + pad) = cv::saturate_cast<uint8_t>(a * luminance(c) + (onto_white ? (1 - a) * 255 : 0));
    }
  if (!onto_white) cv::bitwise_not(img, img);
  double lo = 0, hi = 0;
  cv::minMaxLoc(img, &lo, &hi);
  if (hi - lo < 16) return {};  // nothing drawn that differs from the page
  cv::Mat big;
  cv::resize(img, big, cv::Size(), scale, scale, cv::INTER_CUBIC);
  cv::threshold(big, big, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  // Otsu splits page from ink; the page is whatever touches the border most, so keep it white.
  if (cv::mean(big.row(0))[0] < 128) cv::bitwise_not(big, big);
  return big;
}

}  // namespace

int text_index(const BitmapRect& r) {
  const IndexStats s = index_stats(r);
  if (s.total == 0) return -1;
  int best = -1;
  double best_ratio = 2;
  for (int i = 0; i < 256; ++i) {
    if (!sizeable(s, i)) continue;
    const double ratio = double(s.edge[size_t(i)]) / double(s.count[size_t(i)]);
    if (ratio < best_ratio) best_ratio = ratio, best = i;
  }
  return best;
}

cv::Mat prepare_for_ocr(const BitmapRect& r, int scale, int pad) {
  const int text = text_index(r);
  if (text < 0) return {};
  IndexSet set;
  set.set(size_t(text));
  return render_mask(r, set, scale, pad);
}

BitmapRect without_background_box(const BitmapRect& r) {
  const int64_t area = int64_t(r.w) * r.h;
  std::array<int64_t, 256> count{};
  std::array<int, 256> x0, y0, x1, y1;
  x0.fill(r.w), y0.fill(r.h), x1.fill(-1), y1.fill(-1);
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) {
      const uint8_t i = r.indices[size_t(y) * r.w + x];
      ++count[i];
      x0[i] = std::min(x0[i], x), x1[i] = std::max(x1[i], x), y0[i] = std::min(y0[i], y), y1[i] = std::max(y1[i], y);
    }
  BitmapRect out = r;
  for (int i = 0; i < 256; ++i) {
    if (count[size_t(i)] == 0 || (r.palette[size_t(i)] >> 24) == 0) continue;
    const int64_t box = int64_t(x1[i] - x0[i] + 1) * (y1[i] - y0[i] + 1);
    if (box * 2 < area || count[size_t(i)] * 3 < box) continue;
    bool hole = false;  // a transparent pixel inside: glyph colours leave gaps, a box does not
    for (int y = y0[i]; y <= y1[i] && !hole; ++y)
      for (int x = x0[i]; x <= x1[i] && !hole; ++x) hole = (r.palette[r.indices[size_t(y) * r.w + x]] >> 24) == 0;
    if (!hole) out.palette[size_t(i)] &= 0x00FFFFFFu;
  }
  return out;
}

CandidateRenderings::CandidateRenderings(const BitmapRect& rect, int scale, int pad)
    : rect_(without_background_box(rect)), scale_(scale), pad_(pad) {
  const BitmapRect& r = rect_;
  const IndexStats s = index_stats(r);
  if (s.total == 0) return;
  auto add_mask = [&](const IndexSet& set) {
    if (set.none()) return;
    for (const Recipe& q : recipes_)
      if (q.kind == Recipe::Mask && q.colours == set) return;
    recipes_.push_back({set, Recipe::Mask});
  };
  // The outline wraps everything, so of the sizeable colours it touches transparency most.
  int outline = -1, sizeable_colours = 0;
  double worst = -1;
  for (int i = 0; i < 256; ++i) {
    if (!sizeable(s, i)) continue;
    ++sizeable_colours;
    const double ratio = double(s.edge[size_t(i)]) / double(s.count[size_t(i)]);
    if (ratio > worst) worst = ratio, outline = i;
  }
  IndexSet all_but_outline;
  for (int i = 0; i < 256; ++i)
    if (s.count[size_t(i)] > 0 && (i != outline || sizeable_colours == 1)) all_but_outline.set(size_t(i));
  // First the innermost colour, with any other sizeable colour it hardly touches: a second
  // text colour (a speaker's name) lies apart, while an outline or an anti-alias ring wraps the
  // text, so a good share of the text's pixels touch it.
  if (const int t = text_index(r); t >= 0) {
    IndexSet text;
    text.set(size_t(t));
    for (int i = 0; i < 256; ++i)
      if (sizeable(s, i) && i != outline && i != t && touch_share(r, uint8_t(t), uint8_t(i)) < 0.03) text.set(size_t(i));
    add_mask(text);
  }
  add_mask(all_but_outline);
  for (int i = 0; i < 256; ++i)
    if (sizeable(s, i)) add_mask(IndexSet().set(size_t(i)));
  recipes_.push_back({{}, Recipe::OntoBlack});
  recipes_.push_back({{}, Recipe::OntoWhite});
}

cv::Mat CandidateRenderings::render(size_t i) const {
  const Recipe& q = recipes_.at(i);
  if (q.kind == Recipe::Mask) return render_mask(rect_, q.colours, scale_, pad_);
  return render_flattened(rect_, q.kind == Recipe::OntoWhite, scale_, pad_);
}

}  // namespace reelscale::subtitles
