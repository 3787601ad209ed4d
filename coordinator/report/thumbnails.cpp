// Frames of the source at the cuts, small JPEGs inlined into the report.
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "coordinator/report/html.hpp"
#include "coordinator/report/report.hpp"
#include "shared/media/frame_convert.hpp"
#include "shared/media/image_encode.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::report {

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
    const int fw = frame->width, fh = frame->height;
    rgb.resize(size_t(3) * size_t(fw) * size_t(fh));
    convert.convert(frame.get(), rgb.data());
    // Planar float RGB -> interleaved 8-bit BGR for OpenCV.
    const size_t plane = size_t(fw) * size_t(fh);
    std::vector<cv::Mat> ch{cv::Mat(fh, fw, CV_32F, rgb.data() + 2 * plane), cv::Mat(fh, fw, CV_32F, rgb.data() + plane),
                            cv::Mat(fh, fw, CV_32F, rgb.data())};
    cv::Mat bgr, small, bytes8;
    cv::merge(ch, bgr);
    bgr.convertTo(bytes8, CV_8UC3, 255.0);
    cv::resize(bytes8, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    const std::vector<uint8_t> jpeg = media::encode_jpeg_bgr(small.data, small.cols, small.rows, int(small.step), 80);
    out.push_back({f, data_uri("image/jpeg", std::string_view(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()))});
  }
  return out;
}

}  // namespace reelscale::report
