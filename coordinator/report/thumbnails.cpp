// Pictures for the report, inlined as JPEG data URIs: frames of the source at the cuts, and
// before/after crops (the source upscaled with bicubic next to the restored output).
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "coordinator/report/html.hpp"
#include "coordinator/report/report.hpp"
#include "shared/media/frame_convert.hpp"
#include "shared/media/image_encode.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::report {
namespace {

// A decoded frame as interleaved 8-bit BGR (OpenCV's order), through the same conversion the
// pipeline uses (colour matrix and range from the frame's tags).
cv::Mat to_bgr8(const AVFrame* frame, media::FrameToFloat& convert, std::vector<float>& rgb) {
  const int fw = frame->width, fh = frame->height;
  rgb.resize(size_t(3) * size_t(fw) * size_t(fh));
  convert.convert(frame, rgb.data());
  const size_t plane = size_t(fw) * size_t(fh);
  std::vector<cv::Mat> ch{cv::Mat(fh, fw, CV_32F, rgb.data() + 2 * plane), cv::Mat(fh, fw, CV_32F, rgb.data() + plane),
                          cv::Mat(fh, fw, CV_32F, rgb.data())};
  cv::Mat bgr, bytes8;
  cv::merge(ch, bgr);
  bgr.convertTo(bytes8, CV_8UC3, 255.0);
  return bytes8;
}

std::string jpeg_uri(const cv::Mat& image, int quality) {
  const cv::Mat c = image.isContinuous() ? image : image.clone();
  const std::vector<uint8_t> jpeg = media::encode_jpeg_bgr(c.data, c.cols, c.rows, int(c.step), quality);
  return data_uri("image/jpeg", std::string_view(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()));
}

// Frame `index` of a constant-rate file by its timestamp: the restored output can be a
// terabyte of ProRes, and VideoReader's frame index would read all of it first. The output is
// written with pts = index / rate (retime keeps every frame), so a seek to that time and a
// decode forward lands on it; for intra-only codecs (ProRes, FFV1) the seek lands exactly.
class TimestampReader {
 public:
  explicit TimestampReader(const std::string& path)
      : in_(path), stream_(in_.require_stream(-1, AVMEDIA_TYPE_VIDEO)), dec_(in_, stream_) {
    in_.select_only(stream_);
    const AVStream* st = in_.stream(stream_);
    rate_ = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    if (rate_.num <= 0 || rate_.den <= 0) throw MediaError(path + ": video stream has no frame rate");
    start_ = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
  }
  int width() const { return in_.stream(stream_)->codecpar->width; }
  int height() const { return in_.stream(stream_)->codecpar->height; }

  // Throws MediaError naming the file and frame when the frame is not there.
  av::FramePtr frame(int64_t index) {
    const AVStream* st = in_.stream(stream_);
    const int64_t target = start_ + av_rescale_q(index, av_inv_q(rate_), st->time_base);
    const int64_t half = std::max<int64_t>(av_rescale_q(1, av_inv_q(rate_), st->time_base) / 2, 1);
    const std::string what = in_.label() + ": frame " + std::to_string(index);
    if (!in_.seek(stream_, target)) throw MediaError(what + ": cannot seek there");
    dec_.flush();
    auto out = av::make_frame();
    while (dec_.next(out.get())) {
      const int64_t pts = out->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE || pts < target - half) continue;
      if (pts > target + half) throw MediaError(what + ": not in the file (next frame at pts " + std::to_string(pts) + ")");
      return out;
    }
    throw MediaError(what + ": past the end of the file");
  }

 private:
  media::InputFile in_;
  int stream_ = -1;
  media::StreamDecoder dec_;
  AVRational rate_{0, 1};
  int64_t start_ = 0;
};

// The crop window with the most detail (mean absolute Laplacian), so the comparison shows
// texture and edges rather than sky or a letterbox bar.
cv::Rect busiest_window(const cv::Mat& bgr, int w, int h) {
  cv::Mat gray, lap, mag;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_32F);
  mag = cv::abs(lap);
  cv::Mat integral;
  cv::integral(mag, integral, CV_64F);
  cv::Rect best(std::max(0, (bgr.cols - w) / 2), std::max(0, (bgr.rows - h) / 2), w, h);
  double best_sum = -1;
  const int step_x = std::max(8, w / 4), step_y = std::max(8, h / 4);
  for (int y = 0; y + h <= bgr.rows; y += step_y)
    for (int x = 0; x + w <= bgr.cols; x += step_x) {
      const double sum = integral.at<double>(y + h, x + w) - integral.at<double>(y, x + w) -
                         integral.at<double>(y + h, x) + integral.at<double>(y, x);
      if (sum > best_sum) {
        best_sum = sum;
        best = cv::Rect(x, y, w, h);
      }
    }
  return best;
}

}  // namespace

Box restored_region(const Box& box, const Box& picture, int out_width, int out_height) {
  const double sx = double(out_width) / picture.width, sy = double(out_height) / picture.height;
  return {int(std::lround((box.x - picture.x) * sx)), int(std::lround((box.y - picture.y) * sy)),
          int(std::lround(box.width * sx)), int(std::lround(box.height * sy))};
}

std::vector<Comparison> before_after_crops(const std::string& source, const std::string& restored,
                                           const std::vector<int64_t>& frames, int crop_width, const Box& crop) {
  media::VideoReaderOptions ro;
  ro.allow_vfr = true;
  media::VideoReader reader(source, ro);
  TimestampReader output(restored);
  const auto& info = reader.info();
  const Box picture = crop.width > 0 ? crop : Box{0, 0, info.width, info.height};
  const int cw = std::clamp(crop_width, 16, picture.width);
  const int ch = std::clamp(int(std::lround(double(cw) * 3 / 4)), 16, picture.height);
  const double sx = double(output.width()) / picture.width, sy = double(output.height()) / picture.height;
  media::FrameToFloat convert_in, convert_out;
  std::vector<float> rgb;
  av::FramePtr frame;
  std::vector<Comparison> out;
  for (int64_t f : frames) {
    if (f < 0 || f >= info.frame_count) continue;
    if (reader.position() != f) reader.seek(f);
    if (!reader.read(frame)) break;
    const cv::Mat src = to_bgr8(frame.get(), convert_in, rgb);
    const cv::Rect pic(picture.x, picture.y, std::min(picture.width, src.cols - picture.x),
                       std::min(picture.height, src.rows - picture.y));
    cv::Rect box = busiest_window(src(pic), std::min(cw, pic.width), std::min(ch, pic.height));
    box.x += pic.x;
    box.y += pic.y;
    const Box chosen{box.x, box.y, box.width, box.height};
    const Box r = restored_region(chosen, picture, output.width(), output.height());
    const cv::Rect big(r.x, r.y, r.width, r.height);
    const av::FramePtr restored_frame = output.frame(f);
    const cv::Mat dst = to_bgr8(restored_frame.get(), convert_out, rgb);
    if (big.x + big.width > dst.cols || big.y + big.height > dst.rows)
      throw MediaError(restored + ": frame " + std::to_string(f) + " is smaller than the crop");
    cv::Mat bicubic;
    cv::resize(src(box), bicubic, big.size(), 0, 0, cv::INTER_CUBIC);
    Comparison c;
    c.frame = f;
    c.crop = chosen;
    c.scale_x = sx;
    c.scale_y = sy;
    c.out_width = big.width;
    c.out_height = big.height;
    c.bicubic = jpeg_uri(bicubic, 92);
    c.restored = jpeg_uri(dst(big).clone(), 92);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<Thumbnail> cut_thumbnails(const std::string& video, const std::vector<int64_t>& frames, int width) {
  media::VideoReaderOptions ro;
  ro.allow_vfr = true;  // only pictures: exact VFR numbering does not matter here
  media::VideoReader reader(video, ro);
  const auto& info = reader.info();
  // Display aspect: anamorphic DVD frames are shown as they are meant to look.
  const double sar = info.sample_aspect_ratio.num > 0 && info.sample_aspect_ratio.den > 0
                         ? double(info.sample_aspect_ratio.num) / info.sample_aspect_ratio.den
                         : 1.0;
  const int w = std::max(width, 16);
  const int h = std::max(2, int(std::lround(double(w) * info.height / (info.width * sar))));
  std::vector<Thumbnail> out;
  media::FrameToFloat convert;
  std::vector<float> rgb;
  av::FramePtr frame;
  std::vector<int64_t> sorted = frames;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (int64_t f : sorted) {
    if (f < 0 || f >= info.frame_count) continue;
    if (reader.position() != f) reader.seek(f);
    if (!reader.read(frame)) break;  // a truncated file: no more frames to show
    cv::Mat small;
    cv::resize(to_bgr8(frame.get(), convert, rgb), small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    const std::vector<uint8_t> jpeg = media::encode_jpeg_bgr(small.data, small.cols, small.rows, int(small.step), 80);
    out.push_back({f, data_uri("image/jpeg", std::string_view(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()))});
  }
  return out;
}

}  // namespace reelscale::report
