#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#ifdef REELSCALE_HAVE_CV_FREETYPE
#include <opencv2/freetype.hpp>
#endif

#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>

#include "coordinator/retime/srt.hpp"
#include "coordinator/subtitles/bitmap_events.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "coordinator/subtitles/ocr_languages.hpp"
#include "coordinator/subtitles/ocr_prepare.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/text.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::subtitles {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// One synthetic DVD subtitle: text drawn with a fill colour and an optional outline, in the
// palette slots a disc may use (text, outline and anti-alias ring in any of codes 1-3; a box
// behind the text; a second text colour for the words before ':').
struct Drawn {
  std::string text;  // '\n' separates lines
  int64_t start_ms, end_ms;
  double scale = 1.0;
  uint32_t fill = 0xFFFFFFFF;     // ARGB
  uint32_t outline = 0xFF000000;  // ARGB; 0 = no outline
  int text_code = 1, outline_code = 2, ring_code = -1, box_code = -1, second_code = -1;
  uint32_t ring = 0xFF808080, box = 0xFF303030, second = 0xFFFFFF00;  // ARGB of those slots
  bool italic = false;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  return lines;
}

// The 4-colour palette bitmap of one event, as a DVD subpicture holds it.
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

// Writes an MKV holding one dvd_subtitle stream (720x576 canvas) with the given events.
void write_dvdsub(const fs::path& out, const std::vector<Drawn>& events) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_DVD_SUBTITLE);
  ASSERT_NE(codec, nullptr);
  auto enc = av::make_codec_context(codec);
  enc->width = 720;
  enc->height = 576;
  enc->time_base = {1, 1000};
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "palette",
              "000000,ffffff,808080,c0c0c0,ff0000,00ff00,0000ff,ffff00,ff00ff,00ffff,800000,008000,000080,808000,800080,008080", 0);
  ASSERT_GE(avcodec_open2(enc.get(), codec, &opts), 0);
  av_dict_free(&opts);
  AVFormatContext* raw = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&raw, nullptr, "matroska", out.c_str()), 0);
  av::OutputFormatPtr fmt(raw);
  AVStream* st = avformat_new_stream(fmt.get(), nullptr);
  avcodec_parameters_from_context(st->codecpar, enc.get());
  st->time_base = {1, 1000};
  av_dict_set(&st->metadata, "language", "eng", 0);
  ASSERT_GE(avio_open(&fmt->pb, out.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(fmt.get(), nullptr), 0);
  for (const auto& e : events) {
    const BitmapRect br = draw_rect(e);
    const int w = br.w, h = br.h;
    AVSubtitle sub{};
    sub.end_display_time = uint32_t(e.end_ms - e.start_ms);
    sub.num_rects = 1;
    sub.rects = static_cast<AVSubtitleRect**>(av_mallocz(sizeof(AVSubtitleRect*)));
    sub.rects[0] = static_cast<AVSubtitleRect*>(av_mallocz(sizeof(AVSubtitleRect)));
    AVSubtitleRect* r = sub.rects[0];
    r->type = SUBTITLE_BITMAP;
    r->x = br.x;
    r->y = br.y;
    r->w = w;
    r->h = h;
    r->nb_colors = 4;
    r->linesize[0] = w;
    r->data[0] = static_cast<uint8_t*>(av_malloc(size_t(w) * h));
    r->data[1] = static_cast<uint8_t*>(av_mallocz(16));
    std::memcpy(r->data[0], br.indices.data(), br.indices.size());
    std::memcpy(r->data[1], br.palette.data(), 16);
    std::vector<uint8_t> buf(size_t(w) * h + 65536);
    const int size = avcodec_encode_subtitle(enc.get(), buf.data(), int(buf.size()), &sub);
    avsubtitle_free(&sub);
    ASSERT_GT(size, 0);
    auto pkt = av::make_packet();
    ASSERT_GE(av_new_packet(pkt.get(), size), 0);
    std::memcpy(pkt->data, buf.data(), size_t(size));
    pkt->pts = pkt->dts = e.start_ms;
    pkt->duration = e.end_ms - e.start_ms;
    pkt->stream_index = 0;
    pkt->flags |= AV_PKT_FLAG_KEY;
    ASSERT_GE(av_interleaved_write_frame(fmt.get(), pkt.get()), 0);
  }
  ASSERT_GE(av_write_trailer(fmt.get()), 0);
}

double cer(const std::vector<OcrEvent>& got, const std::vector<Drawn>& want) {
  std::string a, b;
  for (const auto& e : got) a += e.text + "\n";
  for (const auto& e : want) b += e.text + "\n";
  return double(edit_distance(a, b)) / double(b.size());
}

TEST(SubtitleOcr, SyntheticStylesReadWithLowErrorAndExactTimes) {
  testing::TempDir dir;
  const std::vector<Drawn> cases = {
      {"Where are you going tonight?", 1000, 3000},
      {"I told you before.\nWe leave at dawn.", 4000, 6500},                       // two lines
      {"Nobody saw the train arrive.", 7000, 8800, 0.75},                           // small
      {"The harbour was quiet.", 9000, 11000, 1.3},                                 // large
      {"Yellow text, blue edge.", 12000, 14000, 1.0, 0xFFFFFF00u, 0xFF0000FFu},     // colours
      {"Grey letters without outline", 15000, 17000, 1.0, 0xFFC0C0C0u, 0},          // no outline
  };
  write_dvdsub(dir / "subs.mkv", cases);
  const OcrResult r = ocr_stream(dir / "subs.mkv", -1, {});
  ASSERT_EQ(r.events.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_NEAR(r.events[i].start_ms, cases[i].start_ms, 10) << i;
    EXPECT_NEAR(r.events[i].end_ms, cases[i].end_ms, 10) << i;
    EXPECT_EQ(r.events[i].text, cases[i].text) << "event " << i;
  }
  EXPECT_LE(cer(r.events, cases), 0.02);
  EXPECT_EQ(r.language, "eng");
}

bool installed(const std::string& lang) {
  const auto have = installed_languages();
  return std::find(have.begin(), have.end(), lang) != have.end();
}

// OCR of bitmaps built directly (no encoder in between: the palette slots stay exactly as
// drawn), one event per bitmap, 2 s apart.
OcrResult ocr_bitmaps(const std::vector<BitmapRect>& rects, const OcrOptions& options = {}) {
  ExtractResult x;
  for (size_t i = 0; i < rects.size(); ++i) x.events.push_back({int64_t(i) * 2000, int64_t(i) * 2000 + 1500, false, {rects[i]}});
  return ocr_events(x, options);
}

// CER <= 2 % over the set; `exact`: every line read exactly too.
void expect_reads(const std::vector<Drawn>& cases, const std::vector<BitmapRect>& rects, const char* what,
                  bool exact) {
  const OcrResult r = ocr_bitmaps(rects);
  ASSERT_EQ(r.events.size(), cases.size()) << what;
  EXPECT_LE(cer(r.events, cases), 0.02) << what;
  for (size_t i = 0; i < cases.size() && exact; ++i) EXPECT_EQ(r.events[i].text, cases[i].text) << what << " " << i;
}

void expect_reads(const std::vector<Drawn>& cases, const char* what) {
  std::vector<BitmapRect> rects;
  for (const auto& d : cases) rects.push_back(draw_rect(d));
  expect_reads(cases, rects, what, true);
}

const char* const kLines[] = {"Where are you going tonight?", "Nobody saw the train arrive.", "I told you before.",
                              "The harbour was quiet.", "We leave at dawn, all of us.", "Keep the lights off."};

// Text, outline and anti-alias ring in every arrangement of codes 1-3: the ring touches the
// outline as much as the text does, which used to make it win the palette tie.
TEST(SubtitleOcr, TextInAnyPaletteSlotWithOutlineAndRing) {
  std::vector<Drawn> cases;
  int n = 0;
  for (int t = 1; t <= 3; ++t)
    for (int o = 1; o <= 3; ++o) {
      if (o == t) continue;
      Drawn d{kLines[n++ % 6], 0, 0};
      d.text_code = t, d.outline_code = o, d.ring_code = 6 - t - o;
      cases.push_back(d);
    }
  expect_reads(cases, "slots");
}

TEST(SubtitleOcr, DarkTextOnALightOutline) {
  std::vector<Drawn> cases;
  for (int t = 1; t <= 3; ++t) {
    Drawn d{kLines[t], 0, 0};
    d.fill = 0xFF202020, d.outline = 0xFFF0F0F0, d.text_code = t, d.outline_code = t == 3 ? 1 : t + 1;
    cases.push_back(d);
  }
  expect_reads(cases, "dark on light");
}

TEST(SubtitleOcr, BackgroundBoxIsNotText) {
  std::vector<Drawn> cases;
  for (uint32_t box : {0xFF303030u, 0x80000000u, 0xFF1010A0u}) {
    Drawn d{kLines[cases.size() % 6], 0, 0};
    d.box_code = 3, d.box = box;
    cases.push_back(d);
    Drawn plain = d;  // text straight on the box, no outline
    plain.text = kLines[(cases.size() + 3) % 6], plain.outline = 0;
    cases.push_back(plain);
  }
  expect_reads(cases, "box");
}

TEST(SubtitleOcr, TwoColourLinesKeepBothColours) {
  std::vector<Drawn> cases = {{"JOHN: Where were you last night?", 0, 0}, {"MARY: At the harbour, waiting.", 0, 0}};
  cases[0].second_code = 3;
  cases[1].second_code = 3, cases[1].second = 0xFF00FFFF, cases[1].text_code = 2, cases[1].outline_code = 1;
  expect_reads(cases, "two colours");
}

// A PGS-style bitmap: anti-aliased text and outline blended into up to 256 ARGB colours, the
// palette entries in a random order (PGS palettes follow no convention).
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

TEST(SubtitleOcr, PgsWithShuffledPalettes) {
  std::vector<Drawn> cases;
  std::vector<BitmapRect> rects;
  for (uint32_t i = 0; i < 6; ++i) {
    cases.push_back({kLines[i], 0, 0});
    rects.push_back(draw_pgs(kLines[i], 7 + i));
  }
  expect_reads(cases, rects, "pgs", false);  // anti-aliased, thin: a letter may slip ("sow")
}

#ifdef REELSCALE_HAVE_CV_FREETYPE
// A DVD-style bitmap (text code 1, outline code 2) of `text` in a DejaVu font (UTF-8, so
// umlauts and italics are real glyphs).
BitmapRect draw_font(const std::string& text, const std::string& font_file, int height = 30) {
  auto ft = cv::freetype::createFreeType2();
  ft->loadFontData("/usr/share/fonts/truetype/dejavu/" + font_file, 0);
  int base = 0;
  const cv::Size sz = ft->getTextSize(text, height, -1, &base);
  const int w = (sz.width + 24) & ~1, h = (sz.height + base + 24) & ~1;
  cv::Mat canvas(h, w, CV_8UC3, cv::Scalar::all(0));  // the freetype module draws on BGR only
  const cv::Point org(12, 12 + sz.height);
  ft->putText(canvas, text, org, height, cv::Scalar::all(2), 3, cv::LINE_8, true);
  ft->putText(canvas, text, org, height, cv::Scalar::all(2), -1, cv::LINE_8, true);
  ft->putText(canvas, text, org, height, cv::Scalar::all(1), -1, cv::LINE_8, true);
  cv::Mat idx;
  cv::extractChannel(canvas, idx, 0);
  BitmapRect r;
  r.w = w, r.h = h;
  r.indices.assign(idx.data, idx.data + size_t(w) * h);
  r.palette[1] = 0xFFFFFFFF, r.palette[2] = 0xFF000000;
  return r;
}

TEST(SubtitleOcr, GermanStreamIsReadInGermanWithoutBeingTold) {
  if (!installed("deu"))
    GTEST_SKIP() << "tesseract-ocr-deu is not installed (scripts/install-deps.sh installs it)";
  const std::vector<std::string> lines = {"Schöne Grüße aus München.", "Über die Brücke gehen wir später."};
  ExtractResult x;
  x.language = "ger";  // as a DVD tags it (ISO 639-2/B)
  for (size_t i = 0; i < lines.size(); ++i)
    x.events.push_back({int64_t(i) * 2000, int64_t(i) * 2000 + 1500, false, {draw_font(lines[i], "DejaVuSans.ttf")}});
  const OcrResult r = ocr_events(x, {});
  EXPECT_EQ(r.ocr_languages, std::vector<std::string>{"deu"});
  ASSERT_EQ(r.events.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(r.events[i].text, lines[i]);
}
#endif

TEST(SubtitleOcr, LanguageTagsMapToTesseractNames) {
  const std::pair<const char*, const char*> tags[] = {
      {"de", "deu"}, {"ger", "deu"}, {"deu", "deu"}, {"fr", "fra"}, {"fre", "fra"}, {"EN", "eng"},
      {"pt-BR", "por"}, {"zh", "chi_sim"}, {"chi_tra", "chi_tra"}, {"und", ""}, {"", ""}};
  for (const auto& [tag, want] : tags) EXPECT_EQ(tesseract_language_for(tag), want) << tag;
  EXPECT_EQ(tesseract_package_for("deu"), "tesseract-ocr-deu");
  EXPECT_EQ(tesseract_package_for("chi_sim"), "tesseract-ocr-chi-sim");
  EXPECT_EQ(languages_for_stream({"3=deu", "4=fr+eng"}, 4), (std::vector<std::string>{"fr", "eng"}));
  EXPECT_TRUE(languages_for_stream({"3=deu"}, 5).empty());
  const auto have = installed_languages();
  EXPECT_NE(std::find(have.begin(), have.end(), "eng"), have.end());
  EXPECT_EQ(std::find(have.begin(), have.end(), "osd"), have.end());
}

TEST(SubtitleOcr, MissingLanguageNamesTheDebianPackage) {
  try {
    require_installed({"eng", "xqz"}, "OCR of subtitle stream 3");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("stream 3"));
    EXPECT_THAT(e.what(), HasSubstr("apt-get install tesseract-ocr-xqz"));
  }
  ExtractResult x;
  x.events.push_back({0, 1000, false, {draw_rect({"Hello there.", 0, 0})}});
  OcrOptions o;
  o.languages = {"de"};
  if (installed("deu")) {
    EXPECT_EQ(ocr_events(x, o).ocr_languages, std::vector<std::string>{"deu"});  // "de" is deu, not tesseract-ocr-de
  }
  o.languages = {"12"};
  EXPECT_THROW(ocr_events(x, o), ConfigError);
}

TEST(SubtitleOcr, OneCharacterEventIsKept) {
  const OcrResult r = ocr_bitmaps({draw_rect({"?", 0, 0, 1.5}), draw_rect({"Fine.", 0, 0}), draw_rect({"A", 0, 0, 1.5})});
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].text.size(), 1u);  // kept (a lone "?" may read as another sign)
  EXPECT_EQ(r.events[2].text, "A");
}

TEST(SubtitleOcr, ItalicLinesAreTagged) {
  std::vector<Drawn> cases = {{"I never said that.", 0, 0}, {"Keep walking, don't look back.", 0, 0}};
  for (auto& d : cases) d.italic = true;
  const OcrResult r = ocr_bitmaps({draw_rect(cases[0]), draw_rect(cases[1])});
  ASSERT_EQ(r.events.size(), 2u);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(r.events[i].text, "<i>" + cases[i].text + "</i>");
}

// One PGS display set per event (PCS, WDS, PDS, ODS, END) and a clearing set at its end,
// muxed into a .sup by libavformat (FFmpeg has no PGS encoder, so the segments are built here).
struct PgsWriter {
  static void be16(std::vector<uint8_t>& b, int v) { b.push_back(uint8_t(v >> 8)), b.push_back(uint8_t(v)); }
  static void segment(std::vector<uint8_t>& out, uint8_t type, const std::vector<uint8_t>& body) {
    out.push_back(type);
    be16(out, int(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  static std::vector<uint8_t> rle(const BitmapRect& r) {
    std::vector<uint8_t> o;
    for (int y = 0; y < r.h; ++y) {
      for (int x = 0; x < r.w;) {
        const uint8_t c = r.indices[size_t(y) * r.w + x];
        int n = 1;
        while (x + n < r.w && n < 16383 && r.indices[size_t(y) * r.w + x + n] == c) ++n;
        if (c != 0 && n < 3) {
          for (int k = 0; k < n; ++k) o.push_back(c);
        } else {
          o.push_back(0);
          const uint8_t flags = uint8_t((c ? 0x80 : 0) | (n >= 64 ? 0x40 : 0));
          if (n >= 64) o.push_back(uint8_t(flags | (n >> 8))), o.push_back(uint8_t(n));
          else o.push_back(uint8_t(flags | n));
          if (c) o.push_back(c);
        }
        x += n;
      }
      o.push_back(0), o.push_back(0);
    }
    return o;
  }
  static std::vector<uint8_t> display_set(const BitmapRect* r, int number, bool forced) {
    std::vector<uint8_t> out, pcs, wds, pds, ods;
    be16(pcs, 1920), be16(pcs, 1080), pcs.push_back(0x10), be16(pcs, number);
    pcs.push_back(r ? 0x80 : 0x00), pcs.push_back(0), pcs.push_back(0), pcs.push_back(r ? 1 : 0);
    const int x = r ? (1920 - r->w) / 2 : 0, y = r ? 900 : 0;
    if (r) be16(pcs, 0), pcs.push_back(0), pcs.push_back(forced ? 0x40 : 0), be16(pcs, x), be16(pcs, y);
    segment(out, 0x16, pcs);
    wds.push_back(1), wds.push_back(0), be16(wds, x), be16(wds, y), be16(wds, r ? r->w : 1), be16(wds, r ? r->h : 1);
    segment(out, 0x17, wds);
    if (r) {
      pds.push_back(0), pds.push_back(0);
      for (int i = 0; i < 256; ++i) {
        const uint32_t c = r->palette[size_t(i)];
        const int g = int(c & 0xFF);  // grey palettes only: Y from grey, no chroma
        pds.push_back(uint8_t(i)), pds.push_back(uint8_t(16 + g * 219 / 255)), pds.push_back(128), pds.push_back(128);
        pds.push_back(uint8_t(c >> 24));
      }
      segment(out, 0x14, pds);
      const std::vector<uint8_t> data = rle(*r);
      be16(ods, 0), ods.push_back(0), ods.push_back(0xC0);
      const int len = int(data.size()) + 4;
      ods.push_back(uint8_t(len >> 16)), be16(ods, len & 0xFFFF), be16(ods, r->w), be16(ods, r->h);
      ods.insert(ods.end(), data.begin(), data.end());
      segment(out, 0x15, ods);
    }
    segment(out, 0x80, {});
    return out;
  }
};

struct PgsEvent {
  BitmapRect rect;
  int64_t start_ms, end_ms;
  bool forced = false;
};

struct RawPacket {
  std::vector<uint8_t> data;
  int64_t pts = 0, duration = 0;  // in `tb`
};

// A file of one subtitle stream holding the given packets as they are (no encoder).
void write_subtitle_packets(const fs::path& out, const char* format, AVCodecID codec, AVRational tb,
                            const std::vector<RawPacket>& packets) {
  AVFormatContext* raw = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&raw, nullptr, format, out.c_str()), 0);
  av::OutputFormatPtr fmt(raw);
  AVStream* st = avformat_new_stream(fmt.get(), nullptr);
  st->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
  st->codecpar->codec_id = codec;
  st->time_base = tb;
  ASSERT_GE(avio_open(&fmt->pb, out.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(fmt.get(), nullptr), 0);
  for (const RawPacket& p : packets) {
    auto pkt = av::make_packet();
    ASSERT_GE(av_new_packet(pkt.get(), int(p.data.size())), 0);
    std::memcpy(pkt->data, p.data.data(), p.data.size());
    pkt->pts = pkt->dts = av_rescale_q(p.pts, tb, st->time_base);
    pkt->duration = av_rescale_q(p.duration, tb, st->time_base);
    pkt->flags |= AV_PKT_FLAG_KEY;
    ASSERT_GE(av_interleaved_write_frame(fmt.get(), pkt.get()), 0);
  }
  ASSERT_GE(av_write_trailer(fmt.get()), 0);
}

void write_sup(const fs::path& out, const std::vector<PgsEvent>& events) {
  std::vector<RawPacket> packets;
  int number = 0;
  for (const auto& e : events)
    for (const bool show : {true, false})
      packets.push_back({PgsWriter::display_set(show ? &e.rect : nullptr, number++, e.forced),
                         (show ? e.start_ms : e.end_ms) * 90, 0});
  write_subtitle_packets(out, "sup", AV_CODEC_ID_HDMV_PGS_SUBTITLE, {1, 90000}, packets);
}

TEST(SubtitleOcr, PgsSupTimesCountFromTheFilmStart) {
  testing::TempDir dir;
  std::vector<PgsEvent> events;
  for (uint32_t i = 0; i < 4; ++i)
    events.push_back({draw_pgs(kLines[i], 100 + i), 1000 + int64_t(i) * 2500, 3000 + int64_t(i) * 2500, i == 2});
  write_sup(dir / "subs.sup", events);
  const OcrResult r = ocr_stream(dir / "subs.sup", -1, {});
  ASSERT_EQ(r.events.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_NEAR(r.events[i].start_ms, events[i].start_ms, 10) << i;
    EXPECT_NEAR(r.events[i].end_ms, events[i].end_ms, 10) << i;
    EXPECT_LE(double(edit_distance(r.events[i].text, kLines[i])), 0.04 * double(std::strlen(kLines[i]))) << i;
    EXPECT_EQ(r.events[i].forced, i == 2) << i;
  }
  EXPECT_TRUE(has_forced_subset(r));
  EXPECT_EQ(to_srt_events(r, true).size(), 1u);
  EXPECT_EQ(to_srt_events(r, true)[0].start_ms, r.events[2].start_ms);
}

// A VobSub pair: the .idx's "id: de" is the stream's language; an empty .sub is a warning,
// not a silent empty SRT; "forced subs: ON" keeps only forced subtitles.
void write_idx(const fs::path& idx, bool forced_only) {
  write_file_atomic(idx, std::string("# VobSub index file, v7 (do not modify this line!)\nsize: 720x576\n") +
                             "palette: 000000, ffffff, 808080, c0c0c0, ff0000, 00ff00, 0000ff, ffff00, ff00ff, "
                             "00ffff, 800000, 008000, 000080, 808000, 800080, 008080\n" +
                             (forced_only ? "forced subs: ON\n" : "forced subs: OFF\n") + "id: de, index: 0\n");
}

TEST(SubtitleOcr, EmptyVobSubIsNeverASilentSuccess) {
  testing::TempDir dir;
  write_idx(dir / "empty.idx", false);
  write_file_atomic(dir / "empty.sub", "");
  try {
    const ExtractResult x = extract_bitmap_events(dir / "empty.idx");
    EXPECT_EQ(x.language, "de");
    EXPECT_TRUE(x.events.empty());
    ASSERT_FALSE(x.warnings.empty());
    EXPECT_THAT(x.warnings[0], HasSubstr("no packets"));
  } catch (const MediaError& e) {
    EXPECT_THAT(e.what(), HasSubstr("empty.idx"));  // libavformat finds no stream in it
  }
}

TEST(SubtitleOcr, CorruptSubtitleStreamIsAnError) {
  testing::TempDir dir;
  // A dvd_subtitle stream whose packets are all garbage: nothing decodes, so it is corrupt,
  // not "0 subtitles".
  const fs::path out = dir / "bad.mkv";
  std::vector<RawPacket> packets;
  for (int i = 0; i < 3; ++i) {
    RawPacket p{std::vector<uint8_t>(40, 0xA5), 1000 * (i + 1), 500};
    p.data[0] = 0, p.data[1] = 40;  // a plausible size, then nonsense
    packets.push_back(p);
  }
  write_subtitle_packets(out, "matroska", AV_CODEC_ID_DVD_SUBTITLE, {1, 1000}, packets);
  try {
    extract_bitmap_events(out);
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.mkv"));
    EXPECT_THAT(e.what(), HasSubstr("corrupt subtitle data"));
  }
}

// Not a test: writes the input of the OCR speed measurement (docs/media.md) to
// $REELSCALE_OCR_BENCH_DIR: 60 DVD subtitles in the usual palette (ocr_dvd.mkv) and 60 PGS
// subtitles with shuffled palettes (ocr_pgs.sup). Run with --gtest_also_run_disabled_tests.
TEST(SubtitleOcr, DISABLED_WriteBenchmarkInput) {
  const char* dir = std::getenv("REELSCALE_OCR_BENCH_DIR");
  if (!dir) GTEST_SKIP() << "set REELSCALE_OCR_BENCH_DIR";
  std::vector<Drawn> dvd;
  std::vector<PgsEvent> pgs;
  for (int i = 0; i < 60; ++i) {
    const std::string text = std::string(kLines[i % 6]) + (i % 3 == 0 ? "\n" + std::string(kLines[(i + 1) % 6]) : "");
    dvd.push_back({text, 1000 + i * 2000, 2500 + i * 2000});
    pgs.push_back({draw_pgs(kLines[i % 6], uint32_t(i)), 1000 + i * 2000, 2500 + i * 2000});
  }
  write_dvdsub(fs::path(dir) / "ocr_dvd.mkv", dvd);
  write_sup(fs::path(dir) / "ocr_pgs.sup", pgs);
}

TEST(SubtitleOcr, SampleFilmSubtitlesMatchTheTruth) {
  const fs::path film = testing::cached_sample();
  const auto truth = sample::read_truth(sample::truth_path_for(film));
  const OcrResult r = ocr_stream(film, -1, {});
  ASSERT_EQ(r.events.size(), truth.subtitles.size());
  std::string got, want;
  for (size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_NEAR(r.events[i].start_ms, truth.subtitles[i].start_ms, 10);
    EXPECT_NEAR(r.events[i].end_ms, truth.subtitles[i].end_ms, 10);
    got += r.events[i].text + "\n";
    want += truth.subtitles[i].text + "\n";
  }
  EXPECT_LE(double(edit_distance(got, want)) / double(want.size()), 0.02) << got << "\nvs\n" << want;
}

TEST(SubtitleOcr, TextIndexIsTheInsideColourNotTheOutline) {
  BitmapRect r;
  r.w = 20, r.h = 12;
  r.indices.assign(size_t(r.w) * r.h, 0);
  // A filled 12x6 block of index 3 inside a 1-px ring of index 1.
  for (int y = 2; y < 10; ++y)
    for (int x = 3; x < 17; ++x) r.indices[size_t(y) * r.w + x] = (y == 2 || y == 9 || x == 3 || x == 16) ? 1 : 3;
  r.palette[0] = 0x00000000;
  r.palette[1] = 0xFFFFFFFF;  // a white outline...
  r.palette[3] = 0xFF202020;  // ...around dark text: colour alone would pick wrong
  EXPECT_EQ(text_index(r), 3);
  const cv::Mat img = prepare_for_ocr(r, 1, 0);
  EXPECT_EQ(img.at<uint8_t>(5, 8), 0);    // text is black
  EXPECT_EQ(img.at<uint8_t>(0, 0), 255);  // background white
}

TEST(SubtitleOcr, TransparentBitmapHasNoText) {
  BitmapRect r;
  r.w = r.h = 4;
  r.indices.assign(16, 1);
  r.palette[1] = 0x00FFFFFF;
  EXPECT_EQ(text_index(r), -1);
  EXPECT_TRUE(prepare_for_ocr(r).empty());
}

TEST(SubtitleOcr, RepeatsThatTouchAreMerged) {
  std::vector<OcrEvent> in = {{0, 1000, "Hello", 90}, {1020, 2000, "Hello", 80}, {2000, 3000, "World", 95},
                              {4000, 5000, "World", 95}};
  const auto out = merge_repeats(in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].end_ms, 2000);
  EXPECT_DOUBLE_EQ(out[0].confidence, 80);
  EXPECT_EQ(out[2].start_ms, 4000);
}

TEST(SubtitleOcr, FileWithoutSubtitlesIsAClearError) {
  testing::TempDir dir;
  write_file_atomic(dir / "x.srt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n");
  try {
    extract_bitmap_events(dir / "x.srt");
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_THAT(e.what(), HasSubstr("x.srt"));
    EXPECT_THAT(e.what(), HasSubstr("no bitmap subtitle stream"));
  }
  EXPECT_THROW(extract_bitmap_events(dir / "missing.vob"), MediaError);
}

TEST(SubtitleOcr, CorruptPacketsAreSkippedNotFatal) {
  testing::TempDir dir;
  write_dvdsub(dir / "subs.mkv", {{"First line here", 1000, 2000}, {"Second line here", 3000, 4000}});
  // Garble the middle of the file: the damaged event is skipped or misread, never a crash.
  std::string bytes = read_file(dir / "subs.mkv");
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 40 && i < bytes.size(); ++i) bytes[i] = char(0xA5);
  write_file_atomic(dir / "bad.mkv", bytes);
  EXPECT_NO_THROW({
    const auto r = ocr_stream(dir / "bad.mkv", -1, {});
    EXPECT_LE(r.events.size(), 2u);
  });
}

TEST(SubtitleOcr, CliWritesSrt) {
  testing::TempDir dir;
  write_dvdsub(dir / "subs.mkv", {{"Good evening.", 500, 1500}});
  const auto res = testing::run_cli({"ocr", (dir / "subs.mkv").string(), "--lang", "eng", "-o", (dir / "out.srt").string()});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(read_file(dir / "out.srt"), "1\n00:00:00,500 --> 00:00:01,500\nGood evening.\n\n");
}

// The real DVD material beside the checkout: VOB, MKV and the VobSub pair. The expected SRT
// ends the subtitle at 1.080 s; the packet's stop date is 108 ticks, which the DVD format (and
// FFmpeg, VLC) counts in 1024/90000 s: 1.229 s (the MKV's block duration says 1.240 s). 1.080 s
// is 108 read as hundredths of a second. We keep the format's reading and check against it.
TEST(SubtitleOcr, RealDvdSubtitles) {
  REELSCALE_REQUIRE_SHARED();
  const fs::path dvd = *testing::shared_dir() / "media/dvd";
  const auto expected = srt::read_srt_file(dvd / "derived_sample_with_vobsub.expected.srt");
  ASSERT_EQ(expected.size(), 1u);
  for (const char* name : {"derived_sample_with_vobsub.vob", "sample_with_vobsub.mkv", "derived_sample_with_vobsub.idx"}) {
    const OcrResult r = ocr_stream(dvd / name, -1, {});
    ASSERT_EQ(r.events.size(), 1u) << name;
    EXPECT_EQ(r.events[0].text, "This is the first subtitle.") << name;
    EXPECT_NEAR(r.events[0].start_ms, expected[0].start_ms, 10) << name;
    EXPECT_NEAR(r.events[0].end_ms, 1229, 12) << name;
  }
}

}  // namespace
}  // namespace reelscale::subtitles
